//! Looking at what a test left on disk.

use std::path::{Path, PathBuf};

/// Every regular file under `dir`, recursively (hidden ones included), sorted. A directory
/// that does not exist (or cannot be read) contributes nothing.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    fn go(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                go(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_nested_and_hidden_files_sorted() {
        let d = std::env::temp_dir().join(format!("wa-media-testkit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/b/.hidden"), b"x").unwrap();
        std::fs::write(d.join("z"), b"x").unwrap();
        assert_eq!(walk(&d), vec![d.join("a/b/.hidden"), d.join("z")]);
        assert!(walk(&d.join("missing")).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
