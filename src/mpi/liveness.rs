#![doc = include_str!("liveness.md")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a rank may be silent before a blocking open: the spawn's bound (15 s, three
/// attempts) and some margin.
pub(crate) const PAUSE_FOR_OPEN: Duration = Duration::from_secs(60);

/// The slowest network a large message is assumed to cross. A rank receiving one is inside the
/// library until all of it has come (Open MPI's TCP transport reads it in one go) and sends no
/// beat meanwhile, so its sender waits the time the message takes at this rate on top of the
/// timeout.
const SLOWEST_LINK: u64 = 10 << 20; // bytes per second

/// How much longer to wait on a rank that is sent `len` bytes (see [`SLOWEST_LINK`]).
pub(crate) fn transfer_pause(len: usize) -> Duration {
    Duration::from_millis(len as u64 * 1000 / SLOWEST_LINK)
}

/// The default [`rank_timeout`](crate::mpi::MpiPoolBuilder::rank_timeout).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

struct Peer {
    /// Silent past this, the peer is lost.
    deadline: Instant,
    /// When this side last sent it a beat.
    beaten: Instant,
}

/// The peers one endpoint watches.
pub(crate) struct Watch {
    timeout: Duration,
    peers: HashMap<i32, Peer>,
}

impl Watch {
    pub(crate) fn new(
        peers: impl IntoIterator<Item = i32>,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        let peers = peers
            .into_iter()
            .map(|r| {
                (
                    r,
                    Peer {
                        deadline: now + timeout,
                        beaten: now,
                    },
                )
            })
            .collect();
        Watch { timeout, peers }
    }

    /// How often a beat goes to each peer.
    pub(crate) fn every(&self) -> Duration {
        (self.timeout / 5).max(Duration::from_millis(20))
    }

    /// A message came from `rank` (a beat carrying `pause`, or anything else with none).
    pub(crate) fn heard(&mut self, rank: i32, pause: Duration, now: Instant) {
        if let Some(p) = self.peers.get_mut(&rank) {
            p.deadline = p.deadline.max(now + pause + self.timeout);
        }
    }

    /// This thread was blocked: nothing could be heard, so every peer's clock starts again.
    pub(crate) fn stalled(&mut self, now: Instant) {
        for p in self.peers.values_mut() {
            p.deadline = p.deadline.max(now + self.timeout);
        }
    }

    /// The peers due a beat now (each is then counted as beaten).
    pub(crate) fn due(&mut self, now: Instant) -> Vec<i32> {
        let every = self.every();
        let mut due = Vec::new();
        for (&r, p) in &mut self.peers {
            if now.saturating_duration_since(p.beaten) >= every {
                p.beaten = now;
                due.push(r);
            }
        }
        due
    }

    /// Every peer, for a beat that carries a pause.
    pub(crate) fn peers(&self) -> impl Iterator<Item = i32> + '_ {
        self.peers.keys().copied()
    }

    /// The peers silent past their deadline, each with how long it was silent; they are no
    /// longer watched.
    pub(crate) fn lost(&mut self, now: Instant) -> Vec<(i32, Duration)> {
        let gone: Vec<i32> = self
            .peers
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(&r, _)| r)
            .collect();
        gone.into_iter()
            .map(|r| {
                self.peers.remove(&r);
                (r, self.timeout)
            })
            .collect()
    }

    /// Stops watching `rank` (it finished, or was reported lost otherwise).
    pub(crate) fn remove(&mut self, rank: i32) {
        self.peers.remove(&rank);
    }

    /// Watches `rank` too, from `now`.
    pub(crate) fn add(&mut self, rank: i32, now: Instant) {
        let deadline = now + self.timeout;
        self.peers.insert(
            rank,
            Peer {
                deadline,
                beaten: now,
            },
        );
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

/// A beat's payload: the pause, in milliseconds, u64 LE.
pub(crate) fn beat(pause: Duration) -> Vec<u8> {
    (pause.as_millis() as u64).to_le_bytes().to_vec()
}

/// The longest pause a beat may carry: a blocking open, or the largest frame (1 GiB) at
/// [`SLOWEST_LINK`].
const MAX_PAUSE: Duration = Duration::from_secs(120);

/// The pause a beat carries: none if malformed, and never more than [`MAX_PAUSE`] (a peer that
/// sends garbage cannot put off its own detection for longer).
pub(crate) fn pause_of(bytes: &[u8]) -> Duration {
    let ms = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    Duration::from_millis(ms).min(MAX_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn a_silent_peer_is_lost_after_the_timeout_and_only_then() {
        let t0 = Instant::now();
        let mut w = Watch::new([1, 2], T, t0);
        assert!(w.lost(t0 + T - Duration::from_millis(1)).is_empty());
        w.heard(1, Duration::ZERO, t0 + Duration::from_secs(5));
        assert_eq!(w.lost(t0 + T), [(2, T)], "rank 2 said nothing");
        assert!(w.lost(t0 + T).is_empty(), "a lost peer is reported once");
        assert_eq!(w.lost(t0 + Duration::from_secs(15)), [(1, T)]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_pause_extends_the_deadline_and_a_stall_restarts_every_clock() {
        let t0 = Instant::now();
        let mut w = Watch::new([1, 2], T, t0);
        w.heard(1, PAUSE_FOR_OPEN, t0);
        w.stalled(t0 + Duration::from_secs(8));
        let later = t0 + Duration::from_secs(17);
        assert!(
            w.lost(later).is_empty(),
            "the stall at 8 s restarted rank 2's clock"
        );
        assert_eq!(w.lost(t0 + Duration::from_secs(18)), [(2, T)]);
        assert!(w
            .lost(t0 + PAUSE_FOR_OPEN + T - Duration::from_millis(1))
            .is_empty());
        assert_eq!(w.lost(t0 + PAUSE_FOR_OPEN + T), [(1, T)]);
    }

    #[test]
    fn a_large_message_gives_its_receiver_the_time_it_takes_on_a_slow_link() {
        assert_eq!(transfer_pause(0), Duration::ZERO);
        assert_eq!(transfer_pause(10 << 20), Duration::from_secs(1));
        assert_eq!(transfer_pause(1 << 30), Duration::from_millis(102_400));
        let largest = transfer_pause(crate::remote::wire::DEFAULT_FRAME_LIMIT);
        assert_eq!(
            pause_of(&beat(largest)),
            largest,
            "the largest frame's pause gets through"
        );
    }

    #[test]
    fn beats_are_due_once_per_interval() {
        let t0 = Instant::now();
        let mut w = Watch::new([3], T, t0);
        assert!(w.due(t0).is_empty());
        assert_eq!(w.due(t0 + w.every()), [3]);
        assert!(w.due(t0 + w.every()).is_empty());
        w.remove(3);
        assert!(w.due(t0 + T).is_empty());
    }

    #[test]
    fn the_pause_travels_in_the_beat() {
        assert_eq!(pause_of(&beat(PAUSE_FOR_OPEN)), PAUSE_FOR_OPEN);
        assert_eq!(pause_of(&beat(Duration::ZERO)), Duration::ZERO);
        assert_eq!(pause_of(&[1, 2]), Duration::ZERO, "malformed: no pause");
        let forever = u64::MAX.to_le_bytes();
        assert_eq!(pause_of(&forever), MAX_PAUSE, "a garbage pause is capped");
    }
}
