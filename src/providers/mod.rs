//! Layer 3: the Ticketmaster, Spotify and setlist.fm clients on one shared HTTP layer.

pub mod breaker;
pub mod budget;
pub mod error;
pub mod gate;
pub mod http;
pub mod limiter;
pub mod mapping;
pub mod redact;
pub mod setlistfm;
pub mod spotify;
pub mod ticketmaster;

pub use error::{Provider, ProviderError};
