//! Operations: `convene doctor` against real databases, a real server and a real TURN
//! server (coturn), and the deployment files (`Dockerfile`, `docker-compose.yml`)
//! checked against the settings they set.

mod deployment;
mod doctor;
mod turn;
