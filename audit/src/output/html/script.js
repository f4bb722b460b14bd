(function () {
  'use strict';
  var d = document, table = d.getElementById('domains');
  if (!table) { return; }
  d.documentElement.classList.add('js');
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  var rows = Array.prototype.slice.call(table.tBodies);
  var state = { verdict: '', code: '', q: '' };
  var shown = d.getElementById('shown'), none = d.getElementById('none');
  var hasWord = function (list, w) { return (' ' + (list || '') + ' ').indexOf(' ' + w + ' ') >= 0; };
  function apply() {
    var n = 0;
    rows.forEach(function (tb) {
      var ok = (!state.verdict || tb.getAttribute('data-verdict') === state.verdict) &&
        (!state.code || hasWord(tb.getAttribute('data-codes'), state.code)) &&
        (!state.q || (tb.getAttribute('data-text') || '').indexOf(state.q) >= 0);
      tb.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n === rows.length ? 'all ' + n + ' shown' : n + ' of ' + rows.length + ' shown';
    none.hidden = n > 0;
  }
  each(d.querySelectorAll('button[data-filter]'), function (b) {
    b.addEventListener('click', function () {
      state[b.getAttribute('data-filter')] = b.getAttribute('data-value');
      each(b.parentNode.querySelectorAll('button[data-filter]'), function (o) {
        o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      });
      apply();
    });
  });
  var search = d.getElementById('search');
  search.addEventListener('input', function () {
    state.q = search.value.trim().toLowerCase();
    apply();
  });
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, i) {
    var b = th.querySelector('button.sort');
    if (!b) { return; }
    b.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var key = function (tb) {
        var c = tb.rows[0].cells[i], k = c.getAttribute('data-sort');
        return k === null ? c.textContent.trim() : k;
      };
      rows.sort(function (x, y) {
        var n = key(x).localeCompare(key(y), undefined, { numeric: true, sensitivity: 'base' });
        return asc ? n : -n;
      });
      rows.forEach(function (tb) { table.appendChild(tb); });
    });
  });
  var openAll = function (open) { each(table.querySelectorAll('details'), function (x) { x.open = open; }); };
  d.getElementById('expand').addEventListener('click', function () { openAll(true); });
  d.getElementById('collapse').addEventListener('click', function () { openAll(false); });
  var closed = [];
  window.addEventListener('beforeprint', function () {
    closed = Array.prototype.filter.call(d.querySelectorAll('details'), function (x) { return !x.open; });
    closed.forEach(function (x) { x.open = true; });
  });
  window.addEventListener('afterprint', function () {
    closed.forEach(function (x) { x.open = false; });
    closed = [];
  });
  function reveal() {
    var t = location.hash.length > 1 ? d.getElementById(location.hash.slice(1)) : null;
    var x = t && t.tagName === 'TBODY' ? t.querySelector('details') : null;
    if (x) { x.open = true; }
  }
  window.addEventListener('hashchange', reveal);
  reveal();
  d.getElementById('controls').hidden = false;
  apply();
}());
