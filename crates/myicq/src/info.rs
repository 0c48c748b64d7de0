//! The user-information block `MODIFY_USER`, `UPDATE_USER` and `UPDATE_CONTACT` share.

use crate::wire::{Reader, Writer};

/// Longest text field written, in GBK bytes.
pub const FIELD_MAX: usize = 48;
/// Longest self-introduction written.
pub const INTRO_MAX: usize = 255;

/// What a user tells about themselves, in the block's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub face: u8,
    pub nick: String,
    pub age: u8,
    pub gender: u8,
    pub country: String,
    pub province: String,
    pub city: String,
    pub email: String,
    pub address: String,
    pub zipcode: String,
    pub tel: String,
    pub name: String,
    pub blood: u8,
    pub college: String,
    pub occupation: String,
    pub homepage: String,
    pub intro: String,
}

impl UserInfo {
    pub fn read(r: &mut Reader) -> UserInfo {
        UserInfo {
            face: r.u8(),
            nick: r.text(),
            age: r.u8(),
            gender: r.u8(),
            country: r.text(),
            province: r.text(),
            city: r.text(),
            email: r.text(),
            address: r.text(),
            zipcode: r.text(),
            tel: r.text(),
            name: r.text(),
            blood: r.u8(),
            college: r.text(),
            occupation: r.text(),
            homepage: r.text(),
            intro: r.text(),
        }
    }

    /// Writes the block, each text cut to [`FIELD_MAX`] bytes ([`INTRO_MAX`] for the intro) so
    /// that any block fits a datagram.
    pub fn write(&self, w: Writer) -> Writer {
        w.u8(self.face)
            .text_max(&self.nick, FIELD_MAX)
            .u8(self.age)
            .u8(self.gender)
            .text_max(&self.country, FIELD_MAX)
            .text_max(&self.province, FIELD_MAX)
            .text_max(&self.city, FIELD_MAX)
            .text_max(&self.email, FIELD_MAX)
            .text_max(&self.address, FIELD_MAX)
            .text_max(&self.zipcode, FIELD_MAX)
            .text_max(&self.tel, FIELD_MAX)
            .text_max(&self.name, FIELD_MAX)
            .u8(self.blood)
            .text_max(&self.college, FIELD_MAX)
            .text_max(&self.occupation, FIELD_MAX)
            .text_max(&self.homepage, FIELD_MAX)
            .text_max(&self.intro, INTRO_MAX)
    }
}
