//! The parser: a wire line back to a [`ServerLine`]. Fields are read in
//! order; free text after the last field is prose and ignored, except for
//! the tags whose text is the message.

use std::str::FromStr;
use std::sync::Arc;

use super::{HistoryLine, LineParseError, OkReply, ServerLine, Tag, UserState};
use crate::command::Verb;
use crate::error::ErrorCode;

impl ServerLine {
    /// Parses one line, with or without its CRLF.
    ///
    /// # Errors
    ///
    /// An unknown tag or a missing or malformed field.
    pub fn parse(line: &str) -> Result<ServerLine, LineParseError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let tag: Tag = word
            .parse()
            .map_err(|()| LineParseError::UnknownTag(word.to_owned()))?;
        let mut fields = Fields {
            rest,
            tag: tag.as_str(),
        };
        let parsed = match tag {
            Tag::Hello => {
                fields.expect_literal(crate::PROTOCOL)?;
                ServerLine::Hello(fields.text())
            }
            Tag::Welcome => ServerLine::Welcome(fields.word()?),
            Tag::Info => ServerLine::Info(fields.text()),
            Tag::Ok => ServerLine::Ok(parse_ok(&mut fields)?),
            Tag::Err => {
                let code = fields.parsed::<ErrorCode>()?;
                ServerLine::Err(code, fields.text())
            }
            Tag::User => {
                let name = fields.word()?;
                let state = fields.word()?;
                let peer = fields.word()?;
                let state = match (&*state, &*peer) {
                    ("available", "-") => UserState::Available,
                    ("chatting", _) if &*peer != "-" => UserState::Chatting(peer),
                    ("room", _) if &*peer != "-" => UserState::Room(peer),
                    ("away", "-") => UserState::Away,
                    _ => return Err(LineParseError::Malformed("USER")),
                };
                ServerLine::User(name, state)
            }
            Tag::RoomInfo => ServerLine::RoomInfo(fields.word()?, fields.parsed()?),
            Tag::Request => ServerLine::Request(fields.word()?),
            Tag::Cancelled => ServerLine::Cancelled(fields.word()?, fields.parsed()?),
            Tag::Declined => ServerLine::Declined(fields.word()?, fields.parsed()?),
            Tag::Chat => ServerLine::Chat(fields.word()?),
            Tag::Msg => ServerLine::Msg(fields.word()?, fields.text()),
            Tag::Ended => ServerLine::Ended(fields.word()?, fields.parsed()?),
            Tag::Joined => ServerLine::Joined(fields.word()?, fields.word()?),
            Tag::Parted => ServerLine::Parted(fields.word()?, fields.word()?, fields.parsed()?),
            Tag::Room => ServerLine::Room(fields.word()?, fields.word()?, fields.text()),
            Tag::Bye => ServerLine::Bye(fields.parsed()?, fields.text()),
            Tag::Password => ServerLine::Password(fields.word()?),
            Tag::History => ServerLine::History(Box::new(HistoryLine {
                room: fields.word()?,
                at_ms: fields.parsed()?,
                kind: fields.parsed()?,
                from: fields.word()?,
                text: fields.text(),
            })),
            Tag::Action => {
                ServerLine::Action(fields.optional_word()?, fields.word()?, fields.text())
            }
            Tag::Away => ServerLine::Away(fields.word()?, fields.text()),
            Tag::Ignoring => ServerLine::Ignoring(fields.word()?),
            Tag::Topic => ServerLine::Topic(fields.word()?, fields.optional_word()?, fields.text()),
            Tag::Op => ServerLine::Op(fields.word()?, fields.word()?),
            Tag::Kicked => ServerLine::Kicked(fields.word()?, fields.word()?, fields.text()),
        };
        // Any text after the fields of other tags is prose and ignored.
        Ok(parsed)
    }
}

fn parse_ok(fields: &mut Fields<'_>) -> Result<OkReply, LineParseError> {
    let command = fields.word()?;
    let Some(verb) = Verb::of(&command).filter(|verb| verb.name() == &*command) else {
        return Err(LineParseError::Malformed("OK"));
    };
    let reply = match verb {
        Verb::Help => OkReply::Help,
        Verb::List => OkReply::List(fields.parsed()?),
        Verb::Chat => OkReply::Chat(fields.word()?),
        Verb::Accept => OkReply::Accept(fields.word()?),
        Verb::Decline => OkReply::Decline(fields.word()?),
        Verb::Cancel => OkReply::Cancel(fields.word()?),
        Verb::Leave => match &*fields.word()? {
            "chat" => OkReply::LeaveChat(fields.word()?),
            "room" => OkReply::LeaveRoom(fields.word()?),
            _ => return Err(LineParseError::Malformed("OK leave")),
        },
        Verb::Join => OkReply::Join(fields.word()?, fields.parsed()?),
        Verb::Rooms => OkReply::Rooms(fields.parsed()?),
        Verb::Ping => OkReply::Ping(fields.optional_word()?),
        Verb::Register => OkReply::Register(fields.word()?),
        Verb::Password => OkReply::Password,
        Verb::Unregister => OkReply::Unregister(fields.word()?),
        Verb::Away => OkReply::Away,
        Verb::Back => OkReply::Back,
        Verb::Ignore => OkReply::Ignore(fields.word()?),
        Verb::Unignore => OkReply::Unignore(fields.word()?),
        Verb::Ignores => OkReply::Ignores(fields.parsed()?),
        Verb::Topic => OkReply::Topic,
        Verb::Kick => OkReply::Kick(fields.word()?),
        Verb::Ban => OkReply::Ban(fields.word()?),
        // Neither has an `OK`: `/me` is a message, `/exit` gets `BYE`.
        Verb::Me | Verb::Exit => return Err(LineParseError::Malformed("OK")),
    };
    // Free text after the fields is prose for humans, allowed on every tag.
    Ok(reply)
}

/// A cursor over the part of a line after its tag.
struct Fields<'a> {
    rest: &'a str,
    tag: &'static str,
}

impl Fields<'_> {
    fn word(&mut self) -> Result<Arc<str>, LineParseError> {
        let (word, rest) = self.rest.split_once(' ').unwrap_or((self.rest, ""));
        if word.is_empty() {
            return Err(LineParseError::Malformed(self.tag));
        }
        self.rest = rest;
        Ok(Arc::from(word))
    }

    fn parsed<T: FromStr>(&mut self) -> Result<T, LineParseError> {
        let word = self.word()?;
        word.parse()
            .map_err(|_| LineParseError::Malformed(self.tag))
    }

    /// A word where `-` stands for none.
    fn optional_word(&mut self) -> Result<Option<Arc<str>>, LineParseError> {
        let word = self.word()?;
        Ok((&*word != "-").then_some(word))
    }

    fn expect_literal(&mut self, literal: &str) -> Result<(), LineParseError> {
        if *self.word()? == *literal {
            Ok(())
        } else {
            Err(LineParseError::Malformed(self.tag))
        }
    }

    fn text(&mut self) -> Arc<str> {
        Arc::from(std::mem::take(&mut self.rest))
    }
}
