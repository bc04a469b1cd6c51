//! Reading a CSV stream row by row: columns found by name in the header, each record parsed,
//! good records and bad rows handed to a [`RowSink`].

use std::io::Read;

use super::error::{BadRows, ImportError, RowError, RowProblem};

/// Finds the index of each named column in a header, tolerating a byte-order mark and blanks.
fn column_indices<const N: usize>(
    file: &str,
    header: &csv::StringRecord,
    names: [&'static str; N],
) -> Result<[usize; N], ImportError> {
    let mut indices = [0; N];
    for (slot, name) in indices.iter_mut().zip(names) {
        *slot = header
            .iter()
            .position(|field| field.trim_start_matches('\u{feff}').trim() == name)
            .ok_or_else(|| ImportError::MissingColumn {
                file: file.to_owned(),
                column: name,
            })?;
    }
    Ok(indices)
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input)
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// Where parsed rows go: the good records and the bad rows, in file order.
pub trait RowSink<T> {
    /// Takes a good record.
    fn good(&mut self, record: T);
    /// Takes a bad row.
    fn bad(&mut self, error: RowError);
}

/// A sink that keeps everything.
#[derive(Debug)]
pub struct Collected<T> {
    /// The good records.
    pub good: Vec<T>,
    /// The bad rows.
    pub bad: BadRows,
}

impl<T> Default for Collected<T> {
    fn default() -> Collected<T> {
        Collected {
            good: Vec::new(),
            bad: BadRows::default(),
        }
    }
}

impl<T> RowSink<T> for Collected<T> {
    fn good(&mut self, record: T) {
        self.good.push(record);
    }

    fn bad(&mut self, error: RowError) {
        self.bad.push(error);
    }
}

/// Reads a whole CSV stream, turning each record into a `T` with `parse`. Only a failure to
/// read the stream itself ends it early; a bad row goes to the sink and reading goes on.
pub(super) fn read_rows<T, R: Read, const N: usize>(
    input: R,
    file: &str,
    columns: [&'static str; N],
    mut parse: impl FnMut([&str; N]) -> Result<T, RowProblem>,
    sink: &mut impl RowSink<T>,
) -> Result<(), ImportError> {
    let read_error = |source| ImportError::Read {
        file: file.to_owned(),
        source,
    };
    let row_error = |line, problem| RowError {
        file: file.to_owned(),
        line,
        problem,
    };
    let mut reader = csv_reader(input);
    let header = reader.headers().map_err(read_error)?.clone();
    let indices = column_indices(file, &header, columns)?;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => match parse(indices.map(|i| record.get(i).unwrap_or(""))) {
                Ok(parsed) => sink.good(parsed),
                Err(problem) => sink.bad(row_error(line_of(&record), problem)),
            },
            Err(error) if error.is_io_error() => return Err(read_error(error)),
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                sink.bad(row_error(line, RowProblem::Unreadable(error.to_string())));
            }
        }
    }
}
