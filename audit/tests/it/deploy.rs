//! The Kubernetes files under `deploy/k8s/` agree with the binary: the YAML parses, the Job is
//! an Indexed Job that runs shard `$(JOB_COMPLETION_INDEX)` with flags `mailcheck-audit` has
//! (the whole command line parses, with the ConfigMap's values put in), every `$(VAR)` is
//! defined, and the README commands for `plan` and `merge` parse too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use clap::Parser as _;
use mailcheck_audit::cli::{Cli, FailOn};
use yaml_rust2::{Yaml, YamlLoader};

fn read(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.remove(0)
}

fn str_of<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {y:?}"))
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcheck-audit"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Replaces each `$(NAME)` by its value; panics on a name without one.
fn expand(arg: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find("$(") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(')').expect("closing )") + at;
        let name = &rest[at + 2..end];
        out.push_str(
            vars.get(name)
                .unwrap_or_else(|| panic!("$({name}) is not defined for the container")),
        );
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_indexed_job_runs_a_shard_with_flags_that_exist() {
    let job = yaml("deploy/k8s/indexed-job.yaml");
    let config = yaml("deploy/k8s/configmap.yaml");
    assert_eq!(str_of(&job["apiVersion"], "apiVersion"), "batch/v1");
    assert_eq!(str_of(&job["kind"], "kind"), "Job");
    let spec = &job["spec"];
    assert_eq!(str_of(&spec["completionMode"], "completionMode"), "Indexed");
    let completions = spec["completions"].as_i64().expect("completions");
    let parallelism = spec["parallelism"].as_i64().expect("parallelism");
    assert!(completions >= 1 && (1..=completions).contains(&parallelism));
    let pod = &spec["template"]["spec"];
    assert_eq!(str_of(&pod["restartPolicy"], "restartPolicy"), "Never");
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() > 0);

    let containers = pod["containers"].as_vec().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    for kind in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(
                !c["resources"][kind][r].is_badvalue(),
                "resources.{kind}.{r}"
            );
        }
    }
    let command: Vec<&str> = c["command"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "command"))
        .collect();
    assert_eq!(command, ["mailcheck-audit"]);
    let args: Vec<&str> = c["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "args"))
        .collect();
    assert_eq!(args[0], "/plan/shard-$(JOB_COMPLETION_INDEX).csv");
    let pair = |flag: &str| {
        let i = args
            .iter()
            .position(|a| *a == flag)
            .unwrap_or_else(|| panic!("{flag}"));
        args[i + 1]
    };
    assert_eq!(pair("-o"), "/out/shard-$(JOB_COMPLETION_INDEX).jsonl");
    assert_eq!(pair("--history"), "$(HISTORY_URL)");

    // Each flag is one `mailcheck-audit --help` lists.
    let listed = help(&[]);
    for flag in args.iter().filter(|a| a.starts_with('-')) {
        let has = listed
            .lines()
            .any(|l| l.trim_start().starts_with('-') && l.split([' ', ',']).any(|w| w == *flag));
        assert!(has, "mailcheck-audit --help lists no {flag}");
    }

    // The variables: the completion index and the history URL from env, the settings from the
    // ConfigMap (envFrom), each non-empty and each used.
    assert_eq!(str_of(&config["kind"], "kind"), "ConfigMap");
    let from = c["envFrom"].as_vec().expect("envFrom");
    assert_eq!(
        str_of(&from[0]["configMapRef"]["name"], "configMapRef"),
        str_of(&config["metadata"]["name"], "ConfigMap name")
    );
    let mut vars = BTreeMap::new();
    for (k, v) in config["data"].as_hash().expect("data") {
        let (k, v) = (str_of(k, "key"), str_of(v, "value"));
        assert!(!v.is_empty(), "{k} is empty: the flag would get no value");
        assert!(
            args.iter().any(|a| a.contains(&format!("$({k})"))),
            "{k} is not used by the Job"
        );
        vars.insert(k.to_owned(), v.to_owned());
    }
    let env = c["env"].as_vec().expect("env");
    let env_var = |name: &str| {
        env.iter()
            .find(|e| e["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("env {name}"))
    };
    assert_eq!(
        str_of(
            &env_var("JOB_COMPLETION_INDEX")["valueFrom"]["fieldRef"]["fieldPath"],
            "fieldPath"
        ),
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    assert!(!env_var("HISTORY_URL")["valueFrom"]["secretKeyRef"]["key"].is_badvalue());
    vars.insert("JOB_COMPLETION_INDEX".into(), "3".into());
    vars.insert(
        "HISTORY_URL".into(),
        "postgres://mc@db.example.net/mailcheck".into(),
    );

    // The whole command line, expanded as the kubelet would, parses and builds a config.
    let mut argv = vec!["mailcheck-audit".to_owned()];
    argv.extend(args.iter().map(|a| expand(a, &vars)));
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert_eq!(cli.inputs, ["/plan/shard-3.csv"]);
    assert_eq!(cli.outputs, [PathBuf::from("/out/shard-3.jsonl")]);
    assert!(cli.resume, "a retried pod continues its shard");
    assert_eq!(
        cli.fail_on,
        Some(FailOn::Never),
        "a broken domain must not fail the pod"
    );
    assert!(matches!(
        cli.history_location().unwrap(),
        Some(mailcheck_audit::history::Location::Postgres(_))
    ));
    cli.check_config().unwrap();

    // The mounts the arguments name.
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| str_of(&m["mountPath"], "mountPath"))
        .collect();
    for m in ["/plan", "/out"] {
        assert!(mounts.contains(&m), "{m} is not mounted");
    }
}

#[test]
fn the_readmes_show_plan_and_merge_commands_that_parse() {
    let root = read("README.md");
    assert!(
        root.lines().any(|l| l == "### Auditing a million domains"),
        "README section"
    );
    let k8s = read("deploy/k8s/README.md");
    let mut seen = (0, 0);
    for line in root.lines().chain(k8s.lines()) {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("mailcheck-audit ") else {
            continue;
        };
        let words: Vec<&str> = rest
            .split('#')
            .next()
            .unwrap()
            .split_whitespace()
            .filter(|w| *w != "\\")
            .collect();
        match words.first() {
            Some(&"plan") => seen.0 += 1,
            Some(&"merge") => seen.1 += 1,
            _ => continue,
        }
        let argv = std::iter::once("mailcheck-audit").chain(words.iter().copied());
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    assert!(seen.0 >= 2 && seen.1 >= 2, "{seen:?}");
    // The help the binary prints names the subcommands.
    let listed = help(&[]);
    assert!(listed.contains("plan") && listed.contains("merge"));
    assert!(help(&["plan"]).contains("--shards <N>"));
}
