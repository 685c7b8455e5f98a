//! PostgreSQL: connecting over TLS by libpq's rules, naming a database as libpq does, and
//! running PostgreSQL's client programs with the same settings.

mod connect;
pub mod conninfo;
pub mod copy_binary;
pub mod copy_format;
pub mod copy_messages;
pub mod copy_text;
mod database;
pub mod locale;
pub mod pgpass;
pub mod service;
pub mod sqlstate;
pub mod tls;
pub mod tools;

pub use connect::{
    Connection, MISSING_DATABASE, cell, connect, database_missing, lost_race, open, password,
    quote_ident, quote_literal,
};
pub use database::{Database, RootCert, SslMode, Tls};
