//! The process-wide input guard (`guard_inputs`), in a test binary of its own: turning it
//! on reaches every test of the process.

use tensorjpeg_io::{guard_inputs, read_file, read_npy, write_atomic, write_npy};

#[test]
fn read_files_are_never_replaced_and_deleted_ones_do_not_linger() {
    guard_inputs();
    let dir = tempfile::tempdir().unwrap();
    // Read through the raw reader and through a format reader: both refused.
    let b = dir.path().join("b.bin");
    std::fs::write(&b, b"input").unwrap();
    read_file(&b).unwrap();
    let e = write_atomic(&b, b"x").unwrap_err().to_string();
    assert!(e.contains("same file as the input"), "{e}");
    assert_eq!(std::fs::read(&b).unwrap(), b"input");
    let n = dir.path().join("t.npy");
    let t = tensorjpeg::Tensor::from_f32("t", vec![2], vec![1.0, 2.0]).unwrap();
    write_npy(&n, &t).unwrap();
    read_npy(&n).unwrap();
    assert!(write_npy(&n, &t).is_err());
    // Through another spelling of the path.
    assert!(write_atomic(&dir.path().join(".").join("b.bin"), b"x").is_err());
    // An input that was deleted: its inode may be reused by the next new file, which must
    // still be writable.
    let a = tempfile::tempdir().unwrap();
    let p = a.path().join("in.bin");
    std::fs::write(&p, b"x").unwrap();
    read_file(&p).unwrap();
    drop(a);
    for i in 0..20 {
        let d = tempfile::tempdir().unwrap();
        write_atomic(&d.path().join(format!("out{i}.bin")), b"y").unwrap();
    }
}
