#![doc = include_str!("marker.md")]

use std::fmt::Write as _;

/// The variable's name.
pub(crate) const WORKER_ENV: &str = "CONCURRENT_FUTURES_WORKER";

const VERSION: &str = "cf1";

/// Flag: the worker prints task panics (as well as sending them back).
pub(crate) const FLAG_PRINT_PANICS: u32 = 1;
/// Marker flag (a test hook): stop before saying `HELLO`, as a worker stuck in start-up would.
pub(crate) const FLAG_STALL_START: u32 = 2;

/// A parsed marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) parent: u32,
    pub(crate) token: [u8; 16],
    pub(crate) frame_limit: usize,
    pub(crate) flags: u32,
}

impl Marker {
    /// A marker for a new worker of this process, with a fresh token.
    pub(crate) fn new(frame_limit: usize, flags: u32) -> Marker {
        Marker {
            parent: std::process::id(),
            token: random_token(),
            frame_limit,
            flags,
        }
    }

    pub(crate) fn encode(&self) -> String {
        let mut token = String::with_capacity(32);
        for b in self.token {
            let _ = write!(token, "{b:02x}");
        }
        format!(
            "{VERSION}:{}:{token}:{}:{}",
            self.parent, self.frame_limit, self.flags
        )
    }

    /// Parses a marker; every field must be present and well-formed.
    pub(crate) fn parse(s: &str) -> Result<Marker, &'static str> {
        let mut it = s.split(':');
        if it.next() != Some(VERSION) {
            return Err("it is not a version-cf1 marker");
        }
        let parent = it
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            // Pid 1 is a parent too (a program that is a container's entrypoint).
            .filter(|&p| p > 0)
            .ok_or("its parent pid is malformed")?;
        let hex = it.next().ok_or("it has no token")?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("its token is malformed");
        }
        let mut token = [0u8; 16];
        for (i, t) in token.iter_mut().enumerate() {
            *t = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "bad token")?;
        }
        let frame_limit = it
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| (64..=u32::MAX as usize).contains(&n))
            .ok_or("its frame limit is malformed")?;
        let flags = it
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or("its flags are malformed")?;
        if it.next().is_some() {
            return Err("it has extra fields");
        }
        Ok(Marker {
            parent,
            token,
            frame_limit,
            flags,
        })
    }
}

/// 128 bits from the system's random source, or — if that fails — [`weak_token`] (the token
/// guards against stale markers, not against an attacker: the peer-credential check is the
/// security boundary).
fn random_token() -> [u8; 16] {
    super::sys::random_token().unwrap_or_else(weak_token)
}

/// 128 bits from the clock, the pid and a counter, hashed with a random key.
pub(crate) fn weak_token() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut t = [0u8; 16];
    for half in t.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    t
}

/// What the process knows about itself and its standard input, for [`admit`].
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    /// Started with elevated privileges (`AT_SECURE`, `issetugid`): setuid, setgid, file
    /// capabilities.
    pub(crate) secure: bool,
    pub(crate) ppid: u32,
    /// `(uid, euid, gid, egid)`.
    pub(crate) ids: (u32, u32, u32, u32),
    /// Standard input is a socket.
    pub(crate) stdin_socket: bool,
    /// The peer credentials of standard input (`SO_PEERCRED`, `getpeereid`…): `(pid, uid,
    /// gid)`.
    pub(crate) peer: Option<(u32, u32, u32)>,
}

/// Decides whether a process with marker value `value` may serve as a worker. `Err` is the
/// one-line reason to print before running `main` as usual.
pub(crate) fn admit(value: &std::ffi::OsStr, f: &Facts) -> Result<Marker, String> {
    let why = |s: &str| format!("{WORKER_ENV} is set but {s}; running the program normally");
    if f.secure {
        return Err(why(
            "the program runs with elevated privileges (setuid, setgid or file capabilities), \
             and worker mode never crosses a privilege boundary",
        ));
    }
    let value = value.to_str().ok_or_else(|| why("it is not UTF-8"))?;
    if value.is_empty() {
        return Err(why("it is empty"));
    }
    let m = Marker::parse(value).map_err(|e| why(&format!("it is malformed ({e})")))?;
    if m.parent != f.ppid {
        return Err(why(&format!(
            "it names process {} and this process's parent is {} (a stale or inherited marker)",
            m.parent, f.ppid
        )));
    }
    if !f.stdin_socket {
        return Err(why("standard input is not a socket"));
    }
    let (uid, euid, gid, egid) = f.ids;
    match f.peer {
        Some((pid, puid, pgid))
            if pid == m.parent && puid == uid && puid == euid && pgid == gid && pgid == egid =>
        {
            Ok(m)
        }
        Some((pid, puid, pgid)) => Err(why(&format!(
            "the socket on standard input belongs to process {pid} (uid {puid}, gid {pgid}), \
             not to this process's parent {} with uid {uid} and gid {gid}",
            m.parent
        ))),
        None => Err(why("the peer of standard input is unknown")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn facts(m: &Marker) -> Facts {
        Facts {
            secure: false,
            ppid: m.parent,
            ids: (1000, 1000, 100, 100),
            stdin_socket: true,
            peer: Some((m.parent, 1000, 100)),
        }
    }

    #[test]
    fn a_marker_round_trips_and_each_field_is_checked() {
        let m = Marker::new(1 << 20, FLAG_PRINT_PANICS);
        assert_eq!(Marker::parse(&m.encode()), Ok(m.clone()));
        let good = m.encode();
        let mut fields: Vec<&str> = good.split(':').collect();
        for (i, bad) in ["cf0", "0", "abc", "12", "x"].into_iter().enumerate() {
            let saved = fields[i];
            fields[i] = bad;
            assert!(
                Marker::parse(&fields.join(":")).is_err(),
                "{}",
                fields.join(":")
            );
            fields[i] = saved;
        }
        assert!(Marker::parse(&format!("{good}:9")).is_err());
        assert!(Marker::parse("").is_err());
        assert_ne!(Marker::new(64, 0).token, Marker::new(64, 0).token);
    }

    #[test]
    fn admission_refuses_everything_but_our_own_parent() {
        let m = Marker::new(1 << 20, 0);
        let v = m.encode();
        let v = OsStr::new(&v);
        assert_eq!(admit(v, &facts(&m)), Ok(m.clone()));
        let refuse = |f: Facts, what: &str| {
            let e = admit(v, &f).unwrap_err();
            assert!(e.contains(what), "{e}");
            assert!(e.ends_with("running the program normally"), "{e}");
        };
        refuse(
            Facts {
                secure: true,
                ..facts(&m)
            },
            "elevated privileges",
        );
        refuse(
            Facts {
                ppid: 4242,
                ..facts(&m)
            },
            "stale or inherited",
        );
        refuse(
            Facts {
                stdin_socket: false,
                ..facts(&m)
            },
            "not a socket",
        );
        refuse(
            Facts {
                peer: Some((4242, 1000, 100)),
                ..facts(&m)
            },
            "belongs to process 4242",
        );
        refuse(
            Facts {
                peer: Some((m.parent, 0, 100)),
                ..facts(&m)
            },
            "uid 0",
        );
        refuse(
            Facts {
                peer: Some((m.parent, 1000, 0)),
                ..facts(&m)
            },
            "gid 0",
        );
        refuse(
            Facts {
                ids: (1000, 0, 100, 100),
                ..facts(&m)
            },
            "belongs to",
        );
        refuse(
            Facts {
                peer: None,
                ..facts(&m)
            },
            "unknown",
        );
        assert!(admit(OsStr::new(""), &facts(&m))
            .unwrap_err()
            .contains("empty"));
        assert!(admit(OsStr::new("1"), &facts(&m))
            .unwrap_err()
            .contains("malformed"));
    }
}
