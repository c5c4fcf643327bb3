//! Writing outputs without losing anything: atomic replacement, never over an input,
//! never over a device, a FIFO or a directory, and no temporary files left behind.
//!
//! * With the guard on ([`guard_inputs`], as the CLI does), every reader of this crate
//!   records the files it opened ([`note_input`]); a write to one of them (the same
//!   device and inode, through any path or link) is refused.
//!   Commands also call [`check_output`] with their inputs before they start work, so a
//!   mistake costs nothing.
//! * A destination that exists and is not a regular file (`/dev/null`, a FIFO, a socket,
//!   a directory) is refused: the atomic rename would replace it.
//! * The temporary file is `.NAME.tensorjpeg-tmp.PID.N` in the destination's folder,
//!   removed on every error path; one left by a killed run (its process no longer
//!   running) is removed by the next write to the same destination, with a note on
//!   stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// What identifies a file whatever path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<FileId> {
    None
}

/// An input: its path as given, its canonical path, and its identity.
#[derive(Debug, Clone)]
struct Input {
    path: PathBuf,
    canonical: Option<PathBuf>,
    id: Option<FileId>,
}

impl Input {
    fn of(path: &Path) -> Option<Input> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Input {
            path: path.to_path_buf(),
            canonical: std::fs::canonicalize(path).ok(),
            id: file_id(&meta),
        })
    }

    fn same_as(&self, other: &Input) -> bool {
        match (self.id, other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.canonical.is_some() && self.canonical == other.canonical,
        }
    }
}

static INPUTS: Mutex<Vec<Input>> = Mutex::new(Vec::new());
static GUARD: AtomicBool = AtomicBool::new(false);

/// Turns on the process-wide input guard: from now on every file this crate's readers
/// open is recorded ([`note_input`]), and [`write_atomic`] refuses to replace any of them.
/// A command-line tool turns it on at start; a library that reads a file and means to
/// write it back later leaves it off (the default).
pub fn guard_inputs() {
    GUARD.store(true, Ordering::Relaxed);
}

/// Records that this process read `path` (when [`guard_inputs`] is on): [`write_atomic`]
/// will refuse to replace it. Every reader of this crate calls it; call it for files read
/// otherwise.
pub fn note_input(path: &Path) {
    if !GUARD.load(Ordering::Relaxed) {
        return;
    }
    if let Some(i) = Input::of(path) {
        if let Ok(mut v) = INPUTS.lock() {
            if !v.iter().any(|x| x.same_as(&i)) {
                v.push(i);
            }
        }
    }
}

/// Reads a whole file (recording it as an input, see [`note_input`]).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    note_input(path);
    Ok(bytes)
}

/// Checks that `output` may be written: it is not the same file as any of `inputs` (nor
/// any file this process has read), and if it exists it is a regular file. Messages name
/// both files.
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<()> {
    let Ok(meta) = std::fs::metadata(output) else {
        return Ok(()); // nothing there (or a dangling link): nothing to lose
    };
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(Error::format(
            output,
            format!("the output exists and is {kind}: refusing to replace it"),
        ));
    }
    let Some(out) = Input::of(output) else {
        return Ok(());
    };
    // A noted input counts only while its path still names the file that was read: in a
    // long-lived process a deleted input's inode may be reused by an unrelated new file.
    let noted: Vec<Input> = INPUTS
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|i| Input::of(&i.path).is_some_and(|now| now.id == i.id))
        .collect();
    let given = inputs.iter().filter_map(|p| Input::of(p));
    for i in given.chain(noted) {
        if i.same_as(&out) {
            return Err(Error::format(
                output,
                format!(
                    "the output is the same file as the input {}: refusing to overwrite an \
                     input (choose another output path)",
                    i.path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The prefix of temporary files for `file_name` (followed by `PID.N`).
fn tmp_prefix(file_name: &str) -> String {
    format!(".{file_name}.tensorjpeg-tmp.")
}

/// True if process `pid` is known to have ended (only where `/proc` tells).
fn process_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes temporary files of `file_name` in `dir` left by runs that were killed.
fn clean_stale(dir: &Path, file_name: &str) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = tmp_prefix(file_name);
    // The name this module used before: `.NAME.tmp-PID-N`.
    let legacy = format!(".{file_name}.tmp-");
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = if let Some(rest) = name.strip_prefix(&prefix) {
            rest.split('.').next()
        } else if let Some(rest) = name.strip_prefix(&legacy) {
            rest.split('-').next()
        } else {
            continue;
        };
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && process_gone(pid) {
            let p = entry.path();
            if std::fs::remove_file(&p).is_ok() {
                eprintln!(
                    "note: removed {}, a temporary file left by an interrupted run (pid {pid})",
                    p.display()
                );
            }
        }
    }
}

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. Readers see the old file or the new one, never a
/// partial one; on error the temporary file is removed. Refused (see [`check_output`])
/// when `path` is a file this process read, or exists and is not a regular file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    check_output(path, &[])?;
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::format(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    clean_stale(&dir, &file_name);
    let tmp = dir.join(format!(
        "{}{}.{}",
        tmp_prefix(&file_name),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_inputs_and_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        std::fs::write(&a, b"original").unwrap();
        let e = check_output(&a, &[&a]).unwrap_err().to_string();
        assert!(e.contains("same file as the input"), "{e}");
        // Through another path and through a link.
        let other = dir.path().join(".").join("a.bin");
        assert!(check_output(&other, &[&a]).is_err());
        #[cfg(unix)]
        {
            let link = dir.path().join("link.bin");
            std::os::unix::fs::symlink(&a, &link).unwrap();
            assert!(check_output(&link, &[&a]).is_err());
        }
        // (The process-wide guard of read files is tested through the CLI, in its own
        // process: turning it on here would reach the other tests of this binary.)
        // A directory and a device.
        assert!(check_output(dir.path(), &[]).is_err());
        if Path::new("/dev/null").exists() {
            let e = check_output(Path::new("/dev/null"), &[]).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        // A new file is fine, and so is replacing an output.
        let c = dir.path().join("c.bin");
        write_atomic(&c, b"1").unwrap();
        write_atomic(&c, b"2").unwrap();
        assert_eq!(std::fs::read(&c).unwrap(), b"2");
    }

    #[test]
    fn stale_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot be running: above the kernel's pid_max limit (2^22).
        let stale = dir.path().join(".out.bin.tensorjpeg-tmp.4194305.0");
        let legacy = dir.path().join(".out.bin.tmp-4194306-3");
        let live = dir
            .path()
            .join(format!(".out.bin.tensorjpeg-tmp.{}.99", std::process::id()));
        for p in [&stale, &legacy, &live] {
            std::fs::write(p, b"partial").unwrap();
        }
        write_atomic(&dir.path().join("out.bin"), b"done").unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists() && !legacy.exists());
        }
        assert!(live.exists(), "a running process's temporary file is kept");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.len() <= 2, "{left:?}");
    }
}
