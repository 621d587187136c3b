//! Layer 3: the Ticketmaster, Spotify and setlist.fm clients on one shared HTTP layer.

pub mod budget;
pub mod error;
pub mod http;
pub mod limiter;
pub mod redact;

pub use error::{Provider, ProviderError};
pub mod ticketmaster;
