//! include_dir cannot tell cargo which files it read (on stable), so the crate is rebuilt
//! whenever anything under `assets/` changes.
fn main() {
    println!("cargo:rerun-if-changed=assets");
}
