//! Realtime: the websocket gateway at `/api/ws` and the hub that knows every live
//! connection, so access can be ended at once. Chat events will ride the same socket.

pub mod gateway;
pub mod hub;
pub mod protocol;

pub use hub::Hub;
