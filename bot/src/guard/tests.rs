//! Tests of the guard: cooldowns, the result cache (failures kept shorter, expiry), one probe
//! per domain, bounded answers, the global cap and waiting until it is idle.

use super::*;

#[test]
fn cooldowns_per_user_and_guild() {
    let c = Cooldowns::new(Duration::from_secs(30), Duration::from_secs(5));
    let t0 = Instant::now();
    assert_eq!(c.try_start(1, Some(10), t0), Ok(()));
    assert_eq!(
        c.try_start(1, Some(11), t0 + Duration::from_secs(1)),
        Err(CooldownHit::User(Duration::from_secs(29)))
    );
    assert_eq!(
        c.try_start(2, Some(10), t0 + Duration::from_secs(2)),
        Err(CooldownHit::Guild(Duration::from_secs(3)))
    );
    assert_eq!(c.try_start(2, None, t0 + Duration::from_secs(2)), Ok(()));
    assert_eq!(
        c.try_start(3, Some(10), t0 + Duration::from_secs(6)),
        Ok(())
    );
    assert_eq!(c.try_start(1, None, t0 + Duration::from_secs(30)), Ok(()));
}

#[test]
fn zero_cooldowns_never_block() {
    let c = Cooldowns::new(Duration::ZERO, Duration::ZERO);
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(c.try_start(1, Some(1), t0), Ok(()));
    }
}

fn report(verdict: Verdict) -> Arc<Report> {
    let mut r = Report::invalid("x", "y");
    r.verdict = verdict;
    Arc::new(r)
}

#[test]
fn failures_are_cached_shorter_and_a_recheck_forgets() {
    let cache = ReportCache::new(Duration::from_secs(300), Duration::from_secs(60));
    let t0 = Instant::now();
    cache.put("ok.test", report(Verdict::Ok), t0);
    cache.put("broken.test", report(Verdict::Broken), t0);
    cache.put("unsure.test", report(Verdict::Inconclusive), t0);
    let mut partial = Report::invalid("x", "y");
    partial.verdict = Verdict::Ok;
    partial.partial = Some("deadline".into());
    cache.put("partial.test", Arc::new(partial), t0);
    let later = t0 + Duration::from_secs(61);
    assert!(cache.get("ok.test", later).is_some());
    for d in ["broken.test", "unsure.test", "partial.test"] {
        assert!(cache.get(d, later).is_none(), "{d}");
        assert!(cache.get(d, t0 + Duration::from_secs(59)).is_some(), "{d}");
    }
    cache.remove("ok.test");
    assert!(cache.get("ok.test", t0).is_none());
}

#[tokio::test]
async fn simultaneous_checks_of_one_domain_share_one_probe() {
    let running = Arc::new(RunningChecks::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = |started: Arc<std::sync::atomic::AtomicUsize>, rx| {
        move || {
            started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let _ = rx.await;
                report(Verdict::Ok)
            }
            .boxed()
        }
    };
    let (first, led) = running.join_or_start("a.test", start(started.clone(), rx));
    let (_, never) = tokio::sync::oneshot::channel::<()>();
    let (second, led2) = running.join_or_start("a.test", start(started.clone(), never));
    assert!(led && !led2);
    assert_eq!(running.len(), 1);
    tx.send(()).unwrap();
    let (a, b) = tokio::join!(first, second);
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(running.is_empty(), "forgotten once done");
}

#[test]
fn answers_are_bounded() {
    let answers = Answers::new(2);
    let a = |d: &str| Answer {
        domain: mailcheck::DomainName::parse(d).unwrap(),
        report: report(Verdict::Ok),
        private: false,
    };
    let one = answers.put(a("one.test"));
    let two = answers.put(a("two.test"));
    let three = answers.put(a("three.test"));
    assert!(answers.get(one).is_none());
    assert_eq!(answers.get(two).unwrap().domain.as_str(), "two.test");
    answers.update(three, report(Verdict::Broken));
    assert_eq!(answers.get(three).unwrap().report.verdict, Verdict::Broken);
}

#[test]
fn cache_expires() {
    let cache = ReportCache::new(Duration::from_secs(60), Duration::from_secs(60));
    let t0 = Instant::now();
    cache.put("example.com", Arc::new(Report::invalid("x", "y")), t0);
    let (_, age) = cache
        .get("example.com", t0 + Duration::from_secs(10))
        .unwrap();
    assert_eq!(age, Duration::from_secs(10));
    assert!(
        cache
            .get("example.com", t0 + Duration::from_secs(60))
            .is_none()
    );
    assert!(cache.get("other.com", t0).is_none());
}

#[test]
fn cap_limits_concurrency() {
    let cap = ConcurrencyCap::new(1);
    let permit = cap.try_acquire().unwrap();
    assert!(cap.try_acquire().is_none());
    drop(permit);
    assert!(cap.try_acquire().is_some());
}

#[tokio::test]
async fn wait_idle_returns_once_every_slot_is_back() {
    let cap = ConcurrencyCap::new(2);
    cap.wait_idle().await;
    let permit = cap.try_acquire().unwrap();
    let waiter = tokio::spawn({
        let cap = cap.clone();
        async move { cap.wait_idle().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    drop(permit);
    waiter.await.unwrap();
    assert_eq!(cap.available(), 2);
}
