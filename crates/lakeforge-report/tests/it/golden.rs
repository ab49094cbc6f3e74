//! Whole pages for fixed data, compared byte for byte with the files in `golden/`. The
//! files were first written by the renderer as it was inside lakeforge-ml, so they prove
//! the move to this crate changed no byte; a deliberate change to the page rewrites them
//! with `UPDATE_GOLDEN=1 cargo test -p lakeforge-report --test it golden`.

use std::path::PathBuf;

use lakeforge_report::render_html;

mod fixtures;

#[test]
fn pages_match_the_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, data) in fixtures::all() {
        let path = dir.join(format!("{name}.html"));
        let page = render_html(&data);
        if update {
            std::fs::write(&path, &page).unwrap();
            continue;
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            page == want,
            "{name}: the page differs from {}",
            path.display()
        );
    }
}
