//! `acc init`: the questions a first night needs, each answer checked as it is given (on a
//! terminal) or taken from flags (for automation), and the commented `acc.toml` they make.

mod answers;
mod file;
mod interview;
mod probe;
mod render;
mod source;

pub use answers::{Answers, Connection, SftpLogin};
pub use file::{check_free, target, write};
pub use interview::interview;
pub use render::render;
pub use source::{Flags, Question, Source, Terminal};
