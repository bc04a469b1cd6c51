//! `sqlx::migrate!` embeds the migrations when the crate compiles: rebuild it when one is added
//! or changed, which cargo would not notice by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
