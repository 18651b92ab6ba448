//! The archive file of a cleanup: NDJSON, one deleted row a line
//! (`{"table": "runs", "row": {...}}`), parents before children within a
//! batch, made durable (`fsync`) before each batch's delete commits.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::report_model::{ArchiveSink, ArchivedRow};

pub struct NdjsonArchive {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl NdjsonArchive {
    /// Creates `path`; an existing file is an `AlreadyExists` error, never
    /// overwritten (it may be the only copy of rows deleted before).
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(NdjsonArchive {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            rows: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

impl ArchiveSink for NdjsonArchive {
    fn write(&mut self, row: &ArchivedRow) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, row)?;
        self.out.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}
