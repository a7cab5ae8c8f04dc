//! anam-core must stay sans-IO and portable: no browser bindings and no async runtime among its
//! normal dependencies (they are fine in dev-dependencies or in the other crates).

const FORBIDDEN: [&str; 5] = ["wasm-bindgen", "web-sys", "js-sys", "gloo", "tokio"];

/// Names of the packages declared in `[dependencies]` (including dotted `dependencies.x`
/// tables and target-specific `[target.'…'.dependencies]`).
fn dependency_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_deps = false;
    for raw in manifest.lines() {
        let line = raw.trim();
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']').trim();
            if let Some(name) = header.strip_prefix("dependencies.") {
                names.push(name.trim_matches('"').to_owned());
                in_deps = false;
            } else {
                in_deps = header == "dependencies"
                    || (header.starts_with("target.") && header.ends_with(".dependencies"));
                if let Some(idx) = header.find(".dependencies.") {
                    if header.starts_with("target.") {
                        names.push(header[idx + ".dependencies.".len()..].to_owned());
                    }
                }
            }
            continue;
        }
        if in_deps && !line.starts_with('#') {
            if let Some((key, value)) = line.split_once('=') {
                // `name.workspace = true` is a dotted key: the crate is the first segment.
                let key = key.trim();
                let name = key.split('.').next().unwrap_or(key);
                names.push(name.trim_matches('"').to_owned());
                // `alias = { package = "real-name" }` hides the real crate behind an alias.
                if let Some(rest) = value.split("package").nth(1) {
                    if let Some(pkg) = rest.split('"').nth(1) {
                        names.push(pkg.to_owned());
                    }
                }
            }
        }
    }
    names
}

fn forbidden_in(manifest: &str) -> Vec<String> {
    dependency_names(manifest)
        .into_iter()
        .filter(|name| {
            FORBIDDEN
                .iter()
                .any(|bad| name == bad || (*bad == "gloo" && name.starts_with("gloo")))
        })
        .collect()
}

#[test]
fn anam_core_has_no_browser_or_runtime_dependency() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = std::fs::read_to_string(path).expect("read crates/core/Cargo.toml");
    let names = dependency_names(&manifest);
    assert!(
        names.iter().any(|n| n == "serde"),
        "parser found no dependencies: {names:?}"
    );
    assert_eq!(forbidden_in(&manifest), Vec::<String>::new());
}

#[test]
fn the_check_catches_each_forbidden_form() {
    let cases = [
        "[dependencies]\nwasm-bindgen = \"0.2\"\n",
        "[dependencies]\nweb-sys = { version = \"0.3\" }\n",
        "[dependencies]\njs-sys.workspace = true\n",
        "[dependencies]\ngloo-net = \"0.6\"\n",
        "[dependencies.tokio]\nversion = \"1\"\n",
        "[target.'cfg(target_arch = \"wasm32\")'.dependencies]\nweb-sys = \"0.3\"\n",
        "[dependencies]\nrt = { package = \"tokio\", version = \"1\" }\n",
    ];
    for manifest in cases {
        assert_eq!(forbidden_in(manifest).len(), 1, "missed in:\n{manifest}");
    }
    // Dev-dependencies are allowed.
    assert!(
        forbidden_in("[dev-dependencies]\ntokio = \"1\"\n[dependencies]\nserde = \"1\"\n")
            .is_empty()
    );
}
