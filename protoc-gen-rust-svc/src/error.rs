//! The one error type of the generator. Problems in the user's protos or parameters carry the
//! place they come from, so a user can go straight to it.

use std::fmt;

/// Where in a `.proto` file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as the compiler knows it (relative to its include path).
    pub file: String,
    /// 1-based line, when the descriptor carries source info.
    pub line: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// A problem that stops generation.
///
/// `Debug` prints the same sentence as `Display` (as `anyhow` and `std::io::Error` do), so a
/// build script's `fn main() -> Result<(), Box<dyn Error>>` shows it rather than the fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    location: Option<Location>,
    /// 1-based column (in characters) within `location`'s line, for compiler errors.
    column: Option<u32>,
    element: Option<String>,
    message: String,
    /// Lines printed after the message: the source line with a caret under the problem, hints.
    detail: Vec<String>,
}

impl Error {
    /// An error with no place in a proto file (bad parameters, unreadable input).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            location: None,
            column: None,
            element: None,
            message: message.into(),
            detail: Vec::new(),
        }
    }

    /// An error about one element (`rpc inventory.v1.InventoryService.CheckStock`) of a proto file.
    pub fn at(location: Location, element: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: Some(location),
            column: None,
            element: Some(element.into()),
            message: message.into(),
            detail: Vec::new(),
        }
    }

    /// An error the compiler found at a line and column of a proto file.
    pub(crate) fn in_source(
        location: Location,
        column: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        // A column without a line would print as `file:7`, reading like a line.
        let column = column.filter(|_| location.line.is_some());
        Self {
            location: Some(location),
            column,
            ..Self::new(message)
        }
    }

    /// Adds lines printed after the message (a source excerpt, hints).
    pub(crate) fn with_detail(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.detail.extend(lines);
        self
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the problem is, if it is in a proto file.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The 1-based column within the location's line, where the compiler reported one.
    pub fn column(&self) -> Option<u32> {
        self.column
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(element) = &self.element {
            write!(f, "{element}: ")?;
        }
        f.write_str(&self.message)?;
        for line in &self.detail {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// A problem that does not stop generation: the output is complete and compiles, but a user
/// should hear of it (two rpcs on one HTTP route, where only one can be served).
///
/// Displayed as an [`Error`] is, `file:line: element: message`; where it goes is the caller's
/// choice: the plugin writes it to stderr (protoc and buf show a plugin's stderr), a build
/// script as `cargo:warning=`, `generate` to stderr.
#[derive(Clone, PartialEq, Eq)]
pub struct Warning(Error);

impl Warning {
    /// A warning about one element of a proto file.
    pub fn at(location: Location, element: impl Into<String>, message: impl Into<String>) -> Self {
        Self(Error::at(location, element, message))
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        self.0.message()
    }

    /// Where the problem is.
    pub fn location(&self) -> Option<&Location> {
        self.0.location()
    }

    /// The same problem as an error, for the strict mode that refuses it.
    pub fn into_error(self) -> Error {
        self.0
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
