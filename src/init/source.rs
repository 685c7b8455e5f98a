//! Where `acc init`'s answers come from: a person at a terminal, who is asked again after a
//! wrong answer, or flags, for automation, where a wrong or missing answer ends the run (78).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::error::{Error, Result};

/// One question: its flag, what the terminal asks, and the answer taken when none is given.
pub struct Question<'a> {
    pub flag: &'a str,
    pub prompt: &'a str,
    pub default: Option<String>,
}

pub trait Source {
    /// The answer `check` accepts.
    fn answer<T>(
        &mut self,
        q: &Question,
        check: &mut dyn FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<T>;

    /// Several answers, each one `check` accepts; at least one.
    fn answers<T>(
        &mut self,
        q: &Question,
        check: &mut dyn FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<Vec<T>>;

    /// An answer a later check refused: a person is told why and asked again; flags end the
    /// run with the reason (78).
    fn refused(&mut self, flag: &str, why: &str) -> Result<()>;
}

/// A person at a terminal: each question with its default in brackets, asked again with the
/// reason after a wrong answer.
pub struct Terminal<R, W> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> Terminal<R, W> {
    pub fn new(input: R, output: W) -> Self {
        Terminal { input, output }
    }

    fn line(&mut self, q: &Question) -> Result<String> {
        let shown = q
            .default
            .as_deref()
            .map_or(String::new(), |d| format!(" [{d}]"));
        let _ = write!(self.output, "{}{shown}: ", q.prompt);
        let _ = self.output.flush();
        let mut line = String::new();
        let read = self
            .input
            .read_line(&mut line)
            .map_err(|e| Error::usage("cannot read the answer").source(e))?;
        if read == 0 {
            let _ = writeln!(self.output);
            return Err(Error::usage(format!(
                "the input ended before {} was answered; nothing was written",
                q.flag.trim_start_matches('-')
            )));
        }
        Ok(line.trim().to_string())
    }
}

impl<R: BufRead, W: Write> Source for Terminal<R, W> {
    fn answer<T>(
        &mut self,
        q: &Question,
        check: &mut dyn FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<T> {
        loop {
            let typed = self.line(q)?;
            let answer = match (typed.is_empty(), &q.default) {
                (true, Some(d)) => d.clone(),
                _ => typed,
            };
            match check(&answer) {
                Ok(v) => return Ok(v),
                Err(why) => {
                    let _ = writeln!(self.output, "  {why}");
                }
            }
        }
    }

    fn answers<T>(
        &mut self,
        q: &Question,
        check: &mut dyn FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let _ = writeln!(
            self.output,
            "{} (one per line; an empty line ends)",
            q.prompt
        );
        loop {
            let more = Question {
                flag: q.flag,
                prompt: "  ",
                default: None,
            };
            let typed = self.line(&more)?;
            if typed.is_empty() && !all.is_empty() {
                return Ok(all);
            }
            match check(&typed) {
                Ok(v) => all.push(v),
                Err(why) => {
                    let _ = writeln!(self.output, "  {why}");
                }
            }
        }
    }

    fn refused(&mut self, _flag: &str, why: &str) -> Result<()> {
        let _ = writeln!(self.output, "  {why}");
        Ok(())
    }
}

/// Answers given as flags: nothing is asked; a wrong or missing one is a config error (78).
pub struct Flags {
    given: BTreeMap<String, Vec<String>>,
}

impl Flags {
    pub fn new(given: BTreeMap<String, Vec<String>>) -> Self {
        Flags { given }
    }

    fn given(&self, q: &Question) -> Vec<String> {
        self.given.get(q.flag).cloned().unwrap_or_default()
    }
}

impl Source for Flags {
    fn answer<T>(
        &mut self,
        q: &Question,
        check: &mut dyn FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let value = match (self.given(q).pop(), &q.default) {
            (Some(v), _) => v,
            (None, Some(d)) => d.clone(),
            (None, None) => {
                return Err(Error::config(format!("{} is needed", q.flag))
                    .hint(format!("{}: pass {} VALUE", q.prompt, q.flag)));
            }
        };
        check(&value).map_err(|why| Error::config(format!("{}: {why}", q.flag)))
    }

    fn answers<T>(
        &mut self,
        q: &Question,
        check: &mut dyn FnMut(&str) -> std::result::Result<T, String>,
    ) -> Result<Vec<T>> {
        let given = self.given(q);
        if given.is_empty() {
            return Err(Error::config(format!("{} is needed", q.flag)).hint(format!(
                "{}: pass {} VALUE, once for each",
                q.prompt, q.flag
            )));
        }
        given
            .iter()
            .map(|v| check(v).map_err(|why| Error::config(format!("{}: {why}", q.flag))))
            .collect()
    }

    fn refused(&mut self, flag: &str, why: &str) -> Result<()> {
        Err(Error::config(format!("{flag}: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(t: &str) -> std::result::Result<u32, String> {
        t.parse().map_err(|_| format!("'{t}' is not a number"))
    }

    #[test]
    fn a_wrong_answer_is_asked_again_with_the_reason() {
        let mut out = Vec::new();
        let mut t = Terminal::new(&b"twelve\n\n"[..], &mut out);
        let q = Question {
            flag: "--jobs",
            prompt: "jobs",
            default: Some("4".into()),
        };
        assert_eq!(t.answer(&q, &mut number).unwrap(), 4, "the default");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("jobs [4]: ").count(), 2, "{text}");
        assert!(text.contains("'twelve' is not a number"), "{text}");

        let mut t = Terminal::new(&b"twelve\n"[..], Vec::new());
        let ended = t.answer(&q, &mut number).unwrap_err();
        assert_eq!(ended.exit_code(), 2);
    }

    #[test]
    fn flags_never_ask_and_a_wrong_one_is_a_config_error() {
        let q = Question {
            flag: "--jobs",
            prompt: "jobs",
            default: None,
        };
        let given = BTreeMap::from([("--jobs".to_string(), vec!["twelve".to_string()])]);
        let e = Flags::new(given).answer(&q, &mut number).unwrap_err();
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains("--jobs: 'twelve' is not a number"));
        let e = Flags::new(BTreeMap::new())
            .answer(&q, &mut number)
            .unwrap_err();
        assert!(e.message().contains("--jobs is needed"));
    }
}
