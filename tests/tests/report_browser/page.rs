//! The report browser test's page helpers: each DevTools step under a deadline, evaluating
//! JavaScript, reading the shown rows, clicking, waiting for the page to react, and collecting
//! the problems the page reports.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::Page;
use futures::StreamExt as _;

/// Most any one browser step may take.
pub(crate) const STEP: Duration = Duration::from_secs(30);

/// One step, with a deadline and its name in the failure.
pub(crate) async fn step<T, E: std::fmt::Debug>(
    name: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{name}: {e:?}"),
        Err(_) => panic!("{name}: no answer within {STEP:?}"),
    }
}

/// Evaluates `js` and reads its JSON value.
pub(crate) async fn eval<T: serde::de::DeserializeOwned>(page: &Page, what: &str, js: &str) -> T {
    let v = step(what, page.evaluate(js)).await;
    v.into_value()
        .unwrap_or_else(|e| panic!("{what}: unexpected value: {e:?}"))
}

/// The domains shown, in order, with their verdicts.
pub(crate) async fn shown(page: &Page) -> Vec<(String, String)> {
    eval(
        page,
        "list the shown rows",
        "Array.from(document.querySelectorAll('#domains > tbody'))\
           .filter(t => t.checkVisibility())\
           .map(t => [t.querySelector('td.dom').textContent, t.getAttribute('data-verdict')])",
    )
    .await
}

/// Clicks the element `selector` with the mouse.
pub(crate) async fn click(page: &Page, selector: &str) {
    let el = step(&format!("find {selector}"), page.find_element(selector)).await;
    step(&format!("click {selector}"), el.click()).await;
}

/// Problems the page reported: console errors, uncaught exceptions, log errors (CSP reports).
pub(crate) type Problems = Arc<Mutex<Vec<String>>>;

pub(crate) async fn listen(page: &Page) -> Problems {
    let problems: Problems = Arc::default();
    let mut console = step(
        "listen to the console",
        page.event_listener::<EventConsoleApiCalled>(),
    )
    .await;
    let mut exceptions = step(
        "listen for exceptions",
        page.event_listener::<EventExceptionThrown>(),
    )
    .await;
    let mut log = step(
        "listen to the log",
        page.event_listener::<EventEntryAdded>(),
    )
    .await;
    let p = Arc::clone(&problems);
    tokio::spawn(async move {
        while let Some(ev) = console.next().await {
            if matches!(
                ev.r#type,
                ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert
            ) {
                let args: Vec<String> = ev
                    .args
                    .iter()
                    .map(|a| {
                        a.value
                            .as_ref()
                            .map_or_else(String::new, ToString::to_string)
                    })
                    .collect();
                p.lock()
                    .unwrap()
                    .push(format!("console.error: {}", args.join(" ")));
            }
        }
    });
    let p = Arc::clone(&problems);
    tokio::spawn(async move {
        while let Some(ev) = exceptions.next().await {
            let d = &ev.exception_details;
            let what = d
                .exception
                .as_ref()
                .and_then(|e| e.description.clone())
                .unwrap_or_else(|| d.text.clone());
            p.lock().unwrap().push(format!("exception: {what}"));
        }
    });
    let p = Arc::clone(&problems);
    tokio::spawn(async move {
        while let Some(ev) = log.next().await {
            if ev.entry.level == LogEntryLevel::Error {
                p.lock()
                    .unwrap()
                    .push(format!("log ({:?}): {}", ev.entry.source, ev.entry.text));
            }
        }
    });
    problems
}

/// Waits until `js` is true (the page reacts to a click or a key press).
pub(crate) async fn until(page: &Page, what: &str, js: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if eval::<bool>(page, what, js).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still not true after 5 s: {js}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
