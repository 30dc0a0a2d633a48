// Shared by the meerkat-dom targets (included with `#[path]`): a config
// with the example rule pack and the dry-run backend, in a private
// temporary directory of this fuzzing process.

use std::path::{Path, PathBuf};

use meerkat_dom::config::Config;

/// `$TMPDIR/meerkat-fuzz-<target>-<pid>`, created empty.
pub fn scratch(target: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meerkat-fuzz-{target}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// The example heuristics (`examples/dom-heuristics.toml`) with `dir` as
/// state/eve/socket location and a dry-run backend.
#[allow(dead_code)] // not every target uses it
pub fn example_config(dir: &Path) -> Config {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let text = format!(
        "allow = [\"127.0.0.0/8\", \"::1/128\"]\nhome_net = [\"203.0.113.0/24\"]\n\
         include = [\"{heur}\"]\n\
         [input]\neve = \"{eve}\"\nstart_at = \"end\"\n\
         [state]\ndir = \"{state}\"\n[control]\nsocket = \"{sock}\"\n\
         [daemon]\ndetect_own = false\n\
         [[backend]]\nkind = \"dry-run\"\n\
         [[rule]]\nname = \"alert sids\"\nevent = \"alert\"\nfield = \"alert.signature_id\"\n\
         exact = [\"2001219\", \"9000001\"]\nban = \"2h\"\nthreshold = {{ count = 2, within = \"1m\" }}\n",
        heur = examples.join("dom-heuristics.toml").display(),
        eve = dir.join("eve.json").display(),
        state = dir.join("state").display(),
        sock = dir.join("dom.sock").display(),
    );
    let path = dir.join("dom.toml");
    Config::parse(&path, &text).unwrap_or_else(|e| panic!("example config: {e}"))
}
