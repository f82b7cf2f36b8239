//! Realtime: the websocket gateway at `/api/ws`, the hub that knows every live
//! connection on this node, and the bus that carries deliveries to the hubs.

pub mod bus;
pub mod gateway;
pub mod guest;
pub mod hub;
pub mod protocol;

pub use hub::Hub;
