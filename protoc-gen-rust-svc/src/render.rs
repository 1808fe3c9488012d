//! The one printing pass: tokens are parsed with syn and printed with prettyplease.

use proc_macro2::TokenStream;

use crate::error::Error;

/// Prints `tokens` as a formatted Rust file under `header` (comment lines, which prettyplease
/// would drop). Tokens that do not parse are an internal error that shows the offending code
/// instead of a panic.
pub fn render(header: &str, tokens: TokenStream, file_name: &str) -> Result<String, Error> {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => Ok(format!("{header}{}", prettyplease::unparse(&file))),
        Err(error) => {
            // Spans of tokens built in memory carry no positions: show the start of the code.
            let excerpt: String = tokens.to_string().chars().take(400).collect();
            Err(Error::new(format!(
                "internal error: generated code for {file_name} does not parse ({error}); it begins: {excerpt}; \
                 please report this with the proto that caused it"
            )))
        }
    }
}
