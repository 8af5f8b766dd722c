//! SRTP and SRTCP (RFC 3711) with the two suites SDES offers most (RFC 4568 §6.2):
//! `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32` — AES-128 in counter mode for the
//! payload, HMAC-SHA1 over the packet and its rollover counter for the tag (80 or 32 bits on
//! SRTP; SRTCP always carries 80, RFC 4568 §6.2.1). Session keys are derived once from the
//! master key and salt (§4.3, key derivation rate 0); there is no MKI.
//!
//! A [`Context`] protects one direction of a leg's media: ours (our key: what we send) or the
//! party's (its key: what we receive). Each SSRC keeps its rollover counter, the index
//! estimated from the sequence number (§3.3.1), and a 128-packet replay window (§3.3.2); the
//! sending side keeps a window too, so that a packet index is never encrypted twice (a
//! reused keystream would leak both payloads). SRTCP carries its index with the E bit
//! (§3.4), ours counted from 0.

use aes::cipher::{InnerIvInit, KeyInit, KeyIvInit, StreamCipher};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type AesCm = ctr::Ctr128BE<Aes128>;

/// Bytes of a master key and salt together (the `inline:` key of SDES).
pub const MASTER_LEN: usize = 30;
/// Bytes of an SRTCP tag for both suites.
const SRTCP_TAG: usize = 10;
/// Packets of the replay window.
const WINDOW: u64 = 128;
/// SSRCs a receiving context follows at most: a party that keeps changing source loses the
/// oldest (its rollover counter starts over, so its packets fail until it is found again).
pub const MAX_STREAMS: usize = 16;

/// A crypto suite of RFC 4568 §6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// AES-CM 128 with an 80-bit HMAC-SHA1 tag.
    Aes128Sha1_80,
    /// AES-CM 128 with a 32-bit HMAC-SHA1 tag on SRTP (80 bits on SRTCP).
    Aes128Sha1_32,
}

impl Suite {
    /// Both, in our order of preference.
    pub const ALL: [Suite; 2] = [Suite::Aes128Sha1_80, Suite::Aes128Sha1_32];

    /// Its SDES name.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Aes128Sha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::Aes128Sha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite an SDES name stands for.
    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Bytes of its SRTP tag.
    pub fn tag_len(self) -> usize {
        match self {
            Suite::Aes128Sha1_80 => 10,
            Suite::Aes128Sha1_32 => 4,
        }
    }
}

/// A master key (16 bytes) and salt (14 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(pub [u8; MASTER_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A fresh key from the operating system's CSPRNG.
    ///
    /// # Errors
    ///
    /// When the operating system has no randomness to give.
    pub fn generate() -> Result<MasterKey, getrandom::Error> {
        let mut k = [0u8; MASTER_LEN];
        getrandom::getrandom(&mut k)?;
        Ok(MasterKey(k))
    }
}

/// Why a packet was not protected or not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Too short or not version 2.
    #[error("not an SRTP/SRTCP packet")]
    Malformed,
    /// The tag does not match.
    #[error("authentication failed")]
    Auth,
    /// This index was seen (received) or used (sent) already.
    #[error("replayed packet")]
    Replay,
    /// The index is behind the replay window.
    #[error("packet too old")]
    TooOld,
    /// The index space is used up: the key must change.
    #[error("packet index exhausted")]
    Exhausted,
}

/// The keys of one of SRTP and SRTCP.
#[derive(Clone)]
struct Keys {
    cipher: Aes128,
    salt: [u8; 14],
    auth: Hmac<Sha1>,
}

impl Keys {
    /// Derives with labels `label`, `label + 1` (auth) and `label + 2` (salt): 0 for SRTP,
    /// 3 for SRTCP (§4.3.2).
    fn derive(master: &MasterKey, label: u8) -> Keys {
        let mut key = [0u8; 16];
        let mut auth = [0u8; 20];
        let mut salt = [0u8; 14];
        prf(master, label, &mut key);
        prf(master, label + 1, &mut auth);
        prf(master, label + 2, &mut salt);
        Keys {
            cipher: Aes128::new(&key.into()),
            salt,
            auth: <Hmac<Sha1> as Mac>::new_from_slice(&auth)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        }
    }

    /// XORs `data` with the keystream of packet `index` of `ssrc` (§4.1.1).
    fn crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        cm(&self.cipher, &iv, data);
    }

    /// The HMAC over `parts`.
    fn mac(&self, parts: &[&[u8]]) -> Hmac<Sha1> {
        let mut m = self.auth.clone();
        for p in parts {
            m.update(p);
        }
        m
    }
}

/// XORs `data` with the AES-CM keystream of `cipher` from counter `iv`.
fn cm(cipher: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    AesCm::from_core(ctr::CtrCore::inner_iv_init(cipher.clone(), iv.into())).apply_keystream(data);
}

/// The key derivation function of §4.3.3 with kdr 0: `out` is the AES-CM keystream under the
/// master key from x·2^16, x being the master salt XOR the label at octet 7.
fn prf(master: &MasterKey, label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&master.0[16..]);
    iv[7] ^= label;
    out.fill(0);
    AesCm::new((&master.0[..16]).into(), &iv.into()).apply_keystream(out);
}

/// Where a stream's indexes are: the highest one and which of the window behind it were
/// seen.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    highest: Option<u64>,
    /// Bit n: index `highest - n` was seen.
    seen: u128,
}

impl Window {
    /// The 48-bit index of sequence number `seq` (§3.3.1), guessed against the highest one;
    /// the first packet of a stream has rollover counter 0.
    fn estimate(&self, seq: u16) -> Option<u64> {
        let Some(highest) = self.highest else {
            return Some(u64::from(seq));
        };
        let roc = highest >> 16;
        let last = (highest & 0xffff) as u16;
        let guess = if last < 0x8000 {
            if seq > last && seq - last > 0x8000 {
                roc.checked_sub(1)?
            } else {
                roc
            }
        } else if last - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        let index = guess << 16 | u64::from(seq);
        (index < 1 << 48).then_some(index)
    }

    /// Whether `index` may be taken: not seen, not behind the window.
    fn check(&self, index: u64) -> Result<(), Refused> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        let behind = highest - index;
        if behind >= WINDOW {
            Err(Refused::TooOld)
        } else if self.seen >> behind & 1 == 1 {
            Err(Refused::Replay)
        } else {
            Ok(())
        }
    }

    /// Marks `index` seen (after [`Window::check`]).
    fn take(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index <= highest => self.seen |= 1 << (highest - index),
            Some(highest) => {
                let ahead = index - highest;
                self.seen = if ahead >= WINDOW {
                    1
                } else {
                    self.seen << ahead | 1
                };
                self.highest = Some(index);
            }
            None => {
                self.highest = Some(index);
                self.seen = 1;
            }
        }
    }
}

/// The windows of the streams a context has seen, by SSRC.
#[derive(Debug, Default)]
struct Streams(HashMap<u32, Window>);

impl Streams {
    fn get(&self, ssrc: u32) -> Window {
        self.0.get(&ssrc).copied().unwrap_or_default()
    }

    fn put(&mut self, ssrc: u32, w: Window) {
        if self.0.len() >= MAX_STREAMS && !self.0.contains_key(&ssrc) {
            // A party cycling through sources: forget the one furthest behind.
            if let Some(&old) = self.0.iter().min_by_key(|(_, w)| w.highest).map(|(s, _)| s) {
                self.0.remove(&old);
            }
        }
        self.0.insert(ssrc, w);
    }
}

/// One direction of a leg's SRTP and SRTCP.
pub struct Context {
    suite: Suite,
    rtp: Keys,
    rtcp: Keys,
    rtp_streams: Streams,
    rtcp_streams: Streams,
    /// Our next SRTCP index, when this context sends.
    rtcp_index: u32,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// Bytes of an RTP header with its CSRCs and extension; `None` when cut short.
fn rtp_header_len(p: &[u8]) -> Option<usize> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let mut len = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let words = p.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (len <= p.len()).then_some(len)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Context {
    /// A context for `suite` keyed by `master`.
    pub fn new(suite: Suite, master: &MasterKey) -> Context {
        Context {
            suite,
            rtp: Keys::derive(master, 0),
            rtcp: Keys::derive(master, 3),
            rtp_streams: Streams::default(),
            rtcp_streams: Streams::default(),
            rtcp_index: 0,
        }
    }

    /// Its suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Turns the RTP packet in `packet` into SRTP: payload encrypted, tag appended.
    ///
    /// # Errors
    ///
    /// [`Refused::Malformed`] for what is not RTP; [`Refused::Replay`] or
    /// [`Refused::TooOld`] when this SSRC's sequence number was used already (the packet
    /// must not go out under a reused keystream); [`Refused::Exhausted`] at the end of the
    /// index space.
    pub fn protect_rtp(&mut self, packet: &mut Vec<u8>) -> Result<(), Refused> {
        let header = rtp_header_len(packet).ok_or(Refused::Malformed)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be32(&packet[8..12]);
        let mut w = self.rtp_streams.get(ssrc);
        let index = w.estimate(seq).ok_or(Refused::Exhausted)?;
        w.check(index)?;
        w.take(index);
        // Never forgotten on the sending side: a forgotten stream would start its indexes
        // over and reuse keystream (our sources are few: the clock's and one per bridge).
        self.rtp_streams.0.insert(ssrc, w);
        self.rtp.crypt(ssrc, index, &mut packet[header..]);
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = self.rtp.mac(&[packet, &roc]).finalize().into_bytes();
        packet.extend_from_slice(&tag[..self.suite.tag_len()]);
        Ok(())
    }

    /// Checks and decrypts the SRTP packet in `packet` in place; the RTP packet's length.
    ///
    /// # Errors
    ///
    /// [`Refused::Malformed`] when too short, [`Refused::Auth`] for a wrong tag,
    /// [`Refused::Replay`] or [`Refused::TooOld`] for an index seen or behind the window.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, Refused> {
        let tag_len = self.suite.tag_len();
        let len = packet
            .len()
            .checked_sub(tag_len)
            .ok_or(Refused::Malformed)?;
        let header = rtp_header_len(&packet[..len]).ok_or(Refused::Malformed)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be32(&packet[8..12]);
        let mut w = self.rtp_streams.get(ssrc);
        let index = w.estimate(seq).ok_or(Refused::TooOld)?;
        w.check(index)?;
        let roc = ((index >> 16) as u32).to_be_bytes();
        let (body, tag) = packet.split_at_mut(len);
        self.rtp
            .mac(&[body, &roc])
            .verify_truncated_left(tag)
            .map_err(|_| Refused::Auth)?;
        w.take(index);
        self.rtp_streams.put(ssrc, w);
        self.rtp.crypt(ssrc, index, &mut body[header..]);
        Ok(len)
    }

    /// Turns the compound RTCP packet in `packet` into SRTCP: encrypted after its first 8
    /// bytes, E bit and index appended, then the tag.
    ///
    /// # Errors
    ///
    /// [`Refused::Malformed`] for fewer than 8 bytes; [`Refused::Exhausted`] after 2^31
    /// packets.
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), Refused> {
        if packet.len() < 8 {
            return Err(Refused::Malformed);
        }
        let index = self.rtcp_index;
        if index >= 1 << 31 {
            return Err(Refused::Exhausted);
        }
        self.rtcp_index += 1;
        let ssrc = be32(&packet[4..8]);
        self.rtcp.crypt(ssrc, u64::from(index), &mut packet[8..]);
        packet.extend_from_slice(&(index | 1 << 31).to_be_bytes());
        let tag = self.rtcp.mac(&[packet]).finalize().into_bytes();
        packet.extend_from_slice(&tag[..SRTCP_TAG]);
        Ok(())
    }

    /// Checks and (when its E bit says so) decrypts the SRTCP packet in `packet` in place;
    /// the RTCP packet's length.
    ///
    /// # Errors
    ///
    /// As [`Context::unprotect_rtp`].
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, Refused> {
        let authenticated = packet
            .len()
            .checked_sub(SRTCP_TAG)
            .filter(|&n| n >= 12)
            .ok_or(Refused::Malformed)?;
        let len = authenticated - 4;
        let e_index = be32(&packet[len..authenticated]);
        let (encrypted, index) = (e_index >> 31 == 1, u64::from(e_index & 0x7fff_ffff));
        let ssrc = be32(&packet[4..8]);
        let mut w = self.rtcp_streams.get(ssrc);
        w.check(index)?;
        let (body, tag) = packet.split_at_mut(authenticated);
        self.rtcp
            .mac(&[body])
            .verify_truncated_left(tag)
            .map_err(|_| Refused::Auth)?;
        w.take(index);
        self.rtcp_streams.put(ssrc, w);
        if encrypted {
            self.rtcp.crypt(ssrc, index, &mut body[8..len]);
        }
        Ok(len)
    }
}

/// A leg's SRTP, shared by what sends to the party (the clock, relays into the leg, its RTCP)
/// and what reads from it (its reader, its RTCP): our context and the party's, and a count of
/// the packets refused.
#[derive(Debug, Clone)]
pub struct Protection {
    send: Arc<Mutex<Context>>,
    receive: Arc<Mutex<Context>>,
    refused: Arc<AtomicU64>,
}

impl Protection {
    /// SRTP with `suite`, sending under `ours` and receiving under `theirs`.
    pub fn new(suite: Suite, ours: &MasterKey, theirs: &MasterKey) -> Protection {
        Protection {
            send: Arc::new(Mutex::new(Context::new(suite, ours))),
            receive: Arc::new(Mutex::new(Context::new(suite, theirs))),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.send.lock().unwrap_or_else(|p| p.into_inner()).suite
    }

    /// The party changed its key (a re-INVITE's new crypto line): what it sends is read with
    /// `theirs` from now on.
    pub fn rekey(&self, theirs: &MasterKey) {
        let mut r = self.receive.lock().unwrap_or_else(|p| p.into_inner());
        *r = Context::new(r.suite, theirs);
    }

    /// Packets refused so far (bad tags, replays, junk), received or not sent.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn count<T>(&self, r: Result<T, Refused>) -> Option<T> {
        if r.is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        r.ok()
    }

    /// Protects an RTP packet we send; false when it must not go out.
    pub fn rtp_out(&self, packet: &mut Vec<u8>) -> bool {
        let r = self
            .send
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .protect_rtp(packet);
        self.count(r).is_some()
    }

    /// Protects an RTCP packet we send; false when it must not go out.
    pub fn rtcp_out(&self, packet: &mut Vec<u8>) -> bool {
        let r = self
            .send
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .protect_rtcp(packet);
        self.count(r).is_some()
    }

    /// Unprotects an SRTP packet received; its RTP length, `None` when refused.
    pub fn rtp_in(&self, packet: &mut [u8]) -> Option<usize> {
        let r = self
            .receive
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unprotect_rtp(packet);
        self.count(r)
    }

    /// Unprotects an SRTCP packet received; its RTCP length, `None` when refused.
    pub fn rtcp_in(&self, packet: &mut [u8]) -> Option<usize> {
        let r = self
            .receive
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unprotect_rtcp(packet);
        self.count(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn rfc_master() -> MasterKey {
        let mut k = [0u8; MASTER_LEN];
        k.copy_from_slice(&hex(
            "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6",
        ));
        MasterKey(k)
    }

    fn derived(master: &MasterKey, label: u8, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        prf(master, label, &mut out);
        out
    }

    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let keys = Keys {
            cipher: Aes128::new_from_slice(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).expect("key"),
            salt: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD")
                .try_into()
                .expect("salt"),
            auth: <Hmac<Sha1> as Mac>::new_from_slice(&[0; 20]).expect("mac"),
        };
        // Rollover counter, sequence number and SSRC 0: the IV is the salt shifted.
        let mut stream = vec![0u8; 65_282 * 16];
        keys.crypt(0, 0, &mut stream);
        assert_eq!(
            stream[..48],
            hex("E03EAD0935C95E80E166B16DD92B4EB4
                 D23513162B02D0F72A43A2FE4A5F97AB
                 41E95B3BB0A2E8DD477901E4FCA894C0")[..]
        );
        assert_eq!(
            stream[0xfeff * 16..],
            hex("EC8CDF7398607CB0F2D21675EA9EA1E4
                 362B7C3C6773516318A077D7FC5073AE
                 6A2CC3787889374FBEB4C81B17BA6C44")[..]
        );
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let m = rfc_master();
        assert_eq!(derived(&m, 0, 16), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        assert_eq!(derived(&m, 2, 14), hex("30CBBC08863D8C85D49DB34A9AE1"));
        assert_eq!(
            derived(&m, 1, 94),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )
        );
        // The context's keys are these: its salt, and its cipher on a zero block as an
        // independent AES of the vector's key.
        let k = Keys::derive(&m, 0);
        assert_eq!(k.salt[..], hex("30CBBC08863D8C85D49DB34A9AE1")[..]);
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        cm(&k.cipher, &[7u8; 16], &mut a);
        let want: [u8; 16] = hex("C61E7A93744F39EE10734AFE3FF7A087")
            .try_into()
            .expect("key");
        AesCm::new(&want.into(), &[7u8; 16].into()).apply_keystream(&mut b);
        assert_eq!(a, b);
        let tag = k.mac(&[b"x"]).finalize().into_bytes();
        let mut direct =
            <Hmac<Sha1> as Mac>::new_from_slice(&hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
                .expect("mac");
        direct.update(b"x");
        assert_eq!(tag, direct.finalize().into_bytes());
    }

    fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        super::super::rtp::Header {
            payload_type: 0,
            marker: false,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc,
        }
        .write(payload, &mut out);
        out
    }

    fn pair(suite: Suite) -> (Context, Context) {
        let k = MasterKey::generate().expect("random");
        (Context::new(suite, &k), Context::new(suite, &k))
    }

    #[test]
    fn round_trips_both_suites_and_refuses_tampering_and_replays() {
        for suite in Suite::ALL {
            let (mut tx, mut rx) = pair(suite);
            let plain = rtp(7, 0xcafe, &[0xd5; 160]);
            let mut p = plain.clone();
            tx.protect_rtp(&mut p).expect("protects");
            assert_eq!(p.len(), 172 + suite.tag_len());
            assert_ne!(p[12..172], plain[12..], "encrypted");
            assert_eq!(p[..12], plain[..12], "header in the clear");
            let mut tampered = p.clone();
            tampered[40] ^= 1;
            assert_eq!(rx.unprotect_rtp(&mut tampered), Err(Refused::Auth));
            let mut wrong_key = p.clone();
            let (_, mut other) = pair(suite);
            assert_eq!(other.unprotect_rtp(&mut wrong_key), Err(Refused::Auth));
            let mut q = p.clone();
            let n = rx.unprotect_rtp(&mut q).expect("unprotects");
            assert_eq!(q[..n], plain[..]);
            let mut again = p.clone();
            assert_eq!(rx.unprotect_rtp(&mut again), Err(Refused::Replay));
            assert_eq!(rx.unprotect_rtp(&mut [0x80; 5]), Err(Refused::Malformed));
            // We never encrypt one index twice.
            assert_eq!(tx.protect_rtp(&mut plain.clone()), Err(Refused::Replay));
            // Not even after many other sources.
            for ssrc in 0..2 * MAX_STREAMS as u32 {
                tx.protect_rtp(&mut rtp(1, ssrc, &[0; 4]))
                    .expect("protects");
            }
            assert_eq!(tx.protect_rtp(&mut plain.clone()), Err(Refused::Replay));
        }
    }

    #[test]
    fn reordering_within_the_window_and_too_old() {
        let (mut tx, mut rx) = pair(Suite::Aes128Sha1_80);
        let packets: Vec<Vec<u8>> = (0..300u16)
            .map(|s| {
                let mut p = rtp(s, 1, &[s as u8; 20]);
                tx.protect_rtp(&mut p).expect("protects");
                p
            })
            .collect();
        let mut last = packets[299].clone();
        rx.unprotect_rtp(&mut last).expect("newest");
        let mut late = packets[250].clone();
        let n = rx.unprotect_rtp(&mut late).expect("in the window");
        assert_eq!(late[12..n], [250u8; 20]);
        let mut old = packets[100].clone();
        assert_eq!(rx.unprotect_rtp(&mut old), Err(Refused::TooOld));
    }

    #[test]
    fn the_rollover_counter_follows_the_wrap() {
        let (mut tx, mut rx) = pair(Suite::Aes128Sha1_32);
        let seqs: Vec<u16> = (65_530..=65_535).chain(0..6).collect();
        let mut protected = Vec::new();
        for &s in &seqs {
            let mut p = rtp(s, 9, &[s as u8; 8]);
            tx.protect_rtp(&mut p).expect("protects");
            protected.push(p);
        }
        // 65535 late, after the wrap: the estimate puts it in the old roll-over.
        let order = [0, 1, 2, 3, 4, 6, 7, 5, 8, 9, 10, 11];
        for i in order {
            let mut p = protected[i].clone();
            let n = rx.unprotect_rtp(&mut p).expect("unprotects");
            assert_eq!(p[12..n], [seqs[i] as u8; 8]);
        }
        assert_eq!(rx.rtp_streams.get(9).highest, Some(1 << 16 | 5));
        // The sender's index after the wrap carries rollover counter 1: the same packet
        // under counter 0 does not authenticate.
        let mut fresh = pair(Suite::Aes128Sha1_32).1;
        let mut after_wrap = protected[7].clone();
        fresh.rtp = rx.rtp.clone();
        assert_eq!(fresh.unprotect_rtp(&mut after_wrap), Err(Refused::Auth));
    }

    #[test]
    fn srtcp_round_trip_index_and_replay() {
        let (mut tx, mut rx) = pair(Suite::Aes128Sha1_32);
        let mut report = vec![0x80, 201, 0, 1, 0, 0, 0, 42];
        report.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 42]); // a BYE after it
        for i in 0..3u32 {
            let mut p = report.clone();
            tx.protect_rtcp(&mut p).expect("protects");
            assert_eq!(p.len(), report.len() + 4 + 10, "80-bit tag for both suites");
            assert_eq!(be32(&p[16..20]), 1 << 31 | i, "E bit and index");
            assert_ne!(p[8..16], report[8..], "encrypted after 8 bytes");
            let mut tampered = p.clone();
            tampered[17] ^= 0x80;
            assert_eq!(rx.unprotect_rtcp(&mut tampered), Err(Refused::Auth));
            let mut q = p.clone();
            let n = rx.unprotect_rtcp(&mut q).expect("unprotects");
            assert_eq!(q[..n], report[..]);
            assert_eq!(rx.unprotect_rtcp(&mut p), Err(Refused::Replay));
        }
        assert_eq!(rx.unprotect_rtcp(&mut [0x80; 21]), Err(Refused::Malformed));
    }

    #[test]
    fn suite_names() {
        for s in Suite::ALL {
            assert_eq!(Suite::from_name(s.name()), Some(s));
        }
        assert_eq!(Suite::from_name("AES_256_CM_HMAC_SHA1_80"), None);
        assert_ne!(
            MasterKey::generate().expect("random"),
            MasterKey::generate().expect("random")
        );
    }
}
