//! The README and docs/ as a newcomer reads them: every relative link
//! reaches a file of the repository (and a heading of it, for `#anchor`
//! links), and the test command CI runs is the README's.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pages() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md"), root().join("benches/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a page outside its code blocks.
fn prose(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).expect("readable page");
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            out.push(line.to_string());
        }
    }
    out
}

fn anchors(page: &Path) -> Vec<String> {
    prose(page)
        .iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// Relative links `](target)` outside code blocks.
fn links(page: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(page) {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = &after[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                out.push(target.to_string());
            }
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_reaches_a_file_and_heading() {
    let mut broken = Vec::new();
    for page in pages() {
        let dir = page.parent().expect("a folder");
        for link in links(&page) {
            let (file, anchor) = match link.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            if let Some(a) = anchor {
                if target.extension().is_some_and(|e| e == "md")
                    && !anchors(&target).iter().any(|h| h == a)
                {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_for_newcomers() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    for needed in [
        "cargo install --path .",
        "cargo run --release -- demo",
        "## Quick start",
        "## Records",
        "## Outputs: who each file is for",
        "Exit codes",
        "docs/SPEC.md",
    ] {
        assert!(readme.contains(needed), "README lacks {needed:?}");
    }
    assert!(
        !readme.contains("../shared/"),
        "README links outside the repository"
    );
    // The records example is read by the rule set it is shown for.
    let start = readme.find("```csv\n").expect("a records example") + 7;
    let example = &readme[start..start + readme[start..].find("```").expect("closed")];
    assert_eq!(example.lines().count(), 3, "a header and two records");
    let dir = std::env::temp_dir().join(format!("cellmask-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("records.csv");
    std::fs::write(&file, example).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellmask"))
        .args(["protect", "--rules", "drom-imports", "--quiet", "--input"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .expect("runs");
    // Read and protected (every cell of two one-operator records is masked).
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let cmd = readme
        .lines()
        .find(|l| l.starts_with("cargo test"))
        .expect("a test command in the README")
        .split('#')
        .next()
        .expect("command")
        .trim()
        .to_string();
    let last = ci
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("a command")
        .trim();
    assert_eq!(last, cmd);
}
