//! Cross-cutting HTTP pieces: extractors with our error body, the client address,
//! health and metrics endpoints, and the middleware stack.

pub mod client;
pub mod extract;
pub mod health;
pub mod layers;
