//! The fake providers (being built).
