//! Injected faults: `--faults latency=0.05:200ms,429=0.05,5xx=0.05,malformed=0.03,truncated=0.02,drop=0.02,slow=0.02:2s,seed=7`.
//!
//! Grammar (items separated by commas, whitespace ignored):
//!
//! ```text
//! SPEC     := "" | "none" | ITEM ("," ITEM)*
//! ITEM     := "seed=" INTEGER
//!           | [PROVIDER "."] KIND "=" RATE [":" DURATION]
//! PROVIDER := "tm" | "ticketmaster" | "spotify" | "setlistfm"
//! KIND     := "latency" | "jitter" | "429" | "5xx" | "malformed" | "truncated" | "drop" | "slow"
//!           | "broken"
//! RATE     := a probability in 0..=1, drawn per request (for broken: the share of resources)
//! DURATION := for latency (default 200ms) and slow (default 2s): 200ms, 2s, 1.5s, 1m;
//!             for jitter: the longest delay (default 50ms);
//!             for broken: how long after the server starts they stay broken (default: forever)
//! ```
//!
//! `jitter` delays a request by a uniform random time up to its duration before the gateway's
//! limiter sees it, as the network does: requests a client sends evenly arrive bunched, which
//! a strict sliding-window limiter (`syncdeck fake --strict-windows`) answers with 429 unless
//! the client paces with a margin.
//!
//! `broken` is not drawn per request: a fixed share of resources (an artist's setlists, its
//! albums; chosen by a hash of the resource, the same every run) answers 503 every time, as a
//! broken upstream shard does. Job-level retries cannot get past it, so syncs of those artists
//! fail for real, until the duration has passed.
//!
//! An item without a provider applies to all three; a prefixed one overrides it for that
//! provider. Each provider draws from its own random stream (seeded by `seed=N` when given), so
//! one provider's traffic never changes another's faults.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Provider;
use super::util::{fnv64, parse_duration};

/// Per-request probabilities of each fault for one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates {
    /// Delay the whole answer by `latency_delay`.
    pub latency: f64,
    pub latency_delay: Duration,
    /// Delay by a uniform random time in `[0, jitter_max]` before the gateway sees the request.
    pub jitter: f64,
    pub jitter_max: Duration,
    /// The provider's own 429 shape, whatever the limiter says.
    pub rate_limit: f64,
    /// 500, 502 or 503 with an HTML body, as gateways send them.
    pub server_error: f64,
    /// A 200 whose JSON is syntactically broken.
    pub malformed: f64,
    /// A 200 whose body is a valid start cut in the middle.
    pub truncated: f64,
    /// The connection is closed without an answer.
    pub drop: f64,
    /// Headers at once, the body after `slow_delay`.
    pub slow: f64,
    pub slow_delay: Duration,
    /// The share of resources that answer 503 every time (see the module docs).
    pub broken: f64,
    /// How long after the server starts they stay broken; `None`: for good.
    pub broken_for: Option<Duration>,
}

impl Default for FaultRates {
    fn default() -> FaultRates {
        FaultRates {
            latency: 0.0,
            latency_delay: Duration::from_millis(200),
            jitter: 0.0,
            jitter_max: Duration::from_millis(50),
            rate_limit: 0.0,
            server_error: 0.0,
            malformed: 0.0,
            truncated: 0.0,
            drop: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_secs(2),
            broken: 0.0,
            broken_for: None,
        }
    }
}

impl FaultRates {
    pub fn is_none(&self) -> bool {
        [
            self.latency,
            self.jitter,
            self.rate_limit,
            self.server_error,
            self.malformed,
            self.truncated,
            self.drop,
            self.slow,
            self.broken,
        ]
        .iter()
        .all(|r| *r <= 0.0)
    }

    fn set(&mut self, kind: &str, rate: f64, duration: Option<Duration>) -> Result<(), String> {
        let takes_duration = matches!(kind, "latency" | "jitter" | "slow" | "broken");
        if duration.is_some() && !takes_duration {
            return Err(format!(
                "`{kind}` takes no duration (only latency, jitter, slow and broken do)"
            ));
        }
        match kind {
            "latency" => {
                self.latency = rate;
                if let Some(d) = duration {
                    self.latency_delay = d;
                }
            }
            "jitter" => {
                self.jitter = rate;
                if let Some(d) = duration {
                    self.jitter_max = d;
                }
            }
            "slow" => {
                self.slow = rate;
                if let Some(d) = duration {
                    self.slow_delay = d;
                }
            }
            "429" => self.rate_limit = rate,
            "5xx" => self.server_error = rate,
            "malformed" => self.malformed = rate,
            "truncated" => self.truncated = rate,
            "drop" => self.drop = rate,
            "broken" => {
                self.broken = rate;
                self.broken_for = duration;
            }
            other => {
                return Err(format!(
                    "unknown fault `{other}` (latency, jitter, 429, 5xx, malformed, truncated, drop, slow, broken)"
                ));
            }
        }
        Ok(())
    }
}

/// Fault rates per provider, plus the seed of their random streams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub ticketmaster: FaultRates,
    pub spotify: FaultRates,
    pub setlistfm: FaultRates,
    /// `None`: a fresh random seed per server.
    pub seed: Option<u64>,
}

impl FaultSpec {
    /// No faults (the default).
    pub fn none() -> FaultSpec {
        FaultSpec::default()
    }

    /// The same rates for all three providers.
    pub fn uniform(rates: FaultRates) -> FaultSpec {
        FaultSpec {
            ticketmaster: rates,
            spotify: rates,
            setlistfm: rates,
            seed: None,
        }
    }

    pub fn with_seed(mut self, seed: u64) -> FaultSpec {
        self.seed = Some(seed);
        self
    }

    pub fn rates(&self, provider: Provider) -> &FaultRates {
        match provider {
            Provider::Ticketmaster => &self.ticketmaster,
            Provider::Spotify => &self.spotify,
            Provider::SetlistFm => &self.setlistfm,
        }
    }

    fn rates_mut(&mut self, provider: Provider) -> &mut FaultRates {
        match provider {
            Provider::Ticketmaster => &mut self.ticketmaster,
            Provider::Spotify => &mut self.spotify,
            Provider::SetlistFm => &mut self.setlistfm,
        }
    }

    pub fn is_none(&self) -> bool {
        Provider::ALL.iter().all(|p| self.rates(*p).is_none())
    }
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<FaultSpec, String> {
        let mut out = FaultSpec::default();
        let trimmed = spec.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
            return Ok(out);
        }
        // Unprefixed items first, so `5xx=0.1,tm.5xx=0` means "everywhere but Ticketmaster"
        // whatever the order they were written in.
        let mut scoped = Vec::new();
        for item in trimmed.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected KIND=RATE, e.g. 5xx=0.05"))?;
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            if key == "seed" {
                out.seed = Some(
                    value
                        .parse()
                        .map_err(|_| format!("`{item}`: the seed is a whole number"))?,
                );
                continue;
            }
            let (provider, kind) = match key.split_once('.') {
                Some((p, k)) => (Some(parse_provider(p)?), k.to_string()),
                None => (None, key),
            };
            let (rate, duration) = match value.split_once(':') {
                Some((r, d)) => (
                    r,
                    Some(parse_duration(d).map_err(|e| format!("`{item}`: {e}"))?),
                ),
                None => (value, None),
            };
            let rate: f64 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r: &f64| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("`{item}`: the rate is a probability between 0 and 1"))?;
            match provider {
                None => {
                    for p in Provider::ALL {
                        out.rates_mut(p)
                            .set(&kind, rate, duration)
                            .map_err(|e| format!("`{item}`: {e}"))?;
                    }
                }
                Some(p) => scoped.push((p, kind, rate, duration, item.to_string())),
            }
        }
        for (p, kind, rate, duration, item) in scoped {
            out.rates_mut(p)
                .set(&kind, rate, duration)
                .map_err(|e| format!("`{item}`: {e}"))?;
        }
        Ok(out)
    }
}

fn parse_provider(p: &str) -> Result<Provider, String> {
    match p {
        "tm" | "ticketmaster" => Ok(Provider::Ticketmaster),
        "spotify" | "sp" => Ok(Provider::Spotify),
        "setlistfm" | "setlist.fm" | "sf" => Ok(Provider::SetlistFm),
        other => Err(format!(
            "unknown provider `{other}` (tm, spotify or setlistfm)"
        )),
    }
}

/// A fault that replaces the provider's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    Drop,
    ServerError(u16),
    RateLimited,
}

/// A fault that spoils a successful answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spoil {
    Malformed,
    Truncated,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub latency: Option<Duration>,
    /// This request's share of the network's jitter (not a fault of the answer: not labelled).
    pub jitter: Option<Duration>,
    pub replace: Option<Replace>,
    pub spoil: Option<Spoil>,
    pub slow: Option<Duration>,
}

impl Plan {
    /// Labels of the faults this plan applies, for the stats.
    pub(crate) fn labels(&self, spoiled: bool) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.latency.is_some() {
            out.push("latency");
        }
        match self.replace {
            Some(Replace::Drop) => out.push("drop"),
            Some(Replace::ServerError(_)) => out.push("5xx"),
            Some(Replace::RateLimited) => out.push("429"),
            None => {}
        }
        if spoiled {
            match self.spoil {
                Some(Spoil::Malformed) => out.push("malformed"),
                Some(Spoil::Truncated) => out.push("truncated"),
                None => {}
            }
            if self.slow.is_some() {
                out.push("slow");
            }
        }
        out
    }
}

/// The fault spec with one random stream per provider.
pub(crate) struct Faults {
    spec: FaultSpec,
    streams: [Mutex<StdRng>; 3],
    /// When the server started (`broken` heals this long after).
    started: std::time::Instant,
}

impl Faults {
    pub(crate) fn new(spec: FaultSpec) -> Faults {
        let seed = spec.seed.unwrap_or_else(rand::random);
        let stream = |p: Provider| Mutex::new(StdRng::seed_from_u64(seed ^ fnv64(p.name())));
        Faults {
            streams: [
                stream(Provider::Ticketmaster),
                stream(Provider::Spotify),
                stream(Provider::SetlistFm),
            ],
            spec,
            started: std::time::Instant::now(),
        }
    }

    /// Whether `resource` is one of the provider's broken ones right now.
    pub(crate) fn is_broken(&self, provider: Provider, resource: &str) -> bool {
        let rates = self.spec.rates(provider);
        let healed = rates
            .broken_for
            .is_some_and(|d| self.started.elapsed() >= d);
        // FNV alone leaves the high bits of ids that differ in their last characters alike
        // (the catalog's ids do): a splitmix64 finalizer spreads them before taking the top 53
        // bits as a fraction in [0, 1).
        let mut z = fnv64(resource);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let share = (z >> 11) as f64 / (1u64 << 53) as f64;
        rates.broken > 0.0 && !healed && share < rates.broken
    }

    /// Draws this request's faults. Every kind is drawn every time, in a fixed order, so the
    /// sequence for a seed does not depend on which faults fired before. `resource` names what
    /// is asked for (an artist's setlists, an album), for `broken`.
    pub(crate) fn plan(&self, provider: Provider, resource: &str) -> Plan {
        let rates = self.spec.rates(provider);
        if rates.is_none() {
            return Plan::default();
        }

        let mut rng = match self.streams[provider.index()].lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut hit = |rate: f64| rng.random::<f64>() < rate;
        let latency = hit(rates.latency);
        let drop = hit(rates.drop);
        let server_error = hit(rates.server_error);
        let rate_limited = hit(rates.rate_limit);
        let malformed = hit(rates.malformed);
        let truncated = hit(rates.truncated);
        let slow = hit(rates.slow);
        let code = [500u16, 502, 503][rng.random_range(0..3)];
        // Drawn only when jitter is on, so the sequences of specs without it stay as they were.
        let jitter = (rates.jitter > 0.0 && rng.random::<f64>() < rates.jitter)
            .then(|| rates.jitter_max.mul_f64(rng.random::<f64>()));
        // Drawn above all the same, so the random sequence does not depend on it.
        if self.is_broken(provider, resource) {
            return Plan {
                latency: latency.then_some(rates.latency_delay),
                jitter,
                replace: Some(Replace::ServerError(503)),
                ..Plan::default()
            };
        }
        Plan {
            latency: latency.then_some(rates.latency_delay),
            jitter,
            replace: if drop {
                Some(Replace::Drop)
            } else if server_error {
                Some(Replace::ServerError(code))
            } else if rate_limited {
                Some(Replace::RateLimited)
            } else {
                None
            },
            spoil: if malformed {
                Some(Spoil::Malformed)
            } else if truncated {
                Some(Spoil::Truncated)
            } else {
                None
            },
            slow: slow.then_some(rates.slow_delay),
        }
    }
}

/// The HTML page a gateway sends with a 5xx.
pub(crate) fn server_error_page(code: u16) -> String {
    let reason = match code {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    };
    format!("<html><body><h1>{code} {reason}</h1></body></html>")
}

/// Breaks the syntax right after the opening bracket (`{,"…`), so the rest still looks right.
pub(crate) fn malform(body: &[u8]) -> Bytes {
    match body.first() {
        Some(b'{') | Some(b'[') => {
            let mut out = Vec::with_capacity(body.len() + 1);
            out.push(body[0]);
            out.push(b',');
            out.extend_from_slice(&body[1..]);
            Bytes::from(out)
        }
        // XML and anything else: a tag that never closes.
        _ => {
            let mut out = b"<<".to_vec();
            out.extend_from_slice(body);
            Bytes::from(out)
        }
    }
}

/// The first half of the body (at least one byte, never all of it).
pub(crate) fn truncate(body: &[u8]) -> Bytes {
    if body.len() < 2 {
        return Bytes::from_static(b"{");
    }
    Bytes::copy_from_slice(&body[..body.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_resources_are_a_fixed_share_that_heals_after_its_duration() {
        let spec: FaultSpec = "setlistfm.broken=0.25".parse().expect("parses");
        assert_eq!(spec.setlistfm.broken, 0.25);
        assert_eq!(spec.setlistfm.broken_for, None);
        assert!(spec.ticketmaster.is_none(), "only setlist.fm is broken");
        let faults = Faults::new(spec.clone());
        // Ids that differ only in their last characters, as the catalog's do.
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("7a4a7a4a-0000-4000-8000-{i:012}"))
            .collect();
        let broken: Vec<bool> = keys
            .iter()
            .map(|k| faults.is_broken(Provider::SetlistFm, k))
            .collect();
        let share = broken.iter().filter(|b| **b).count() as f64 / keys.len() as f64;
        assert!((0.2..0.3).contains(&share), "share {share}");
        // The same resources every time, in every server: a hash, not a draw.
        let again = Faults::new(spec.with_seed(99));
        for (k, b) in keys.iter().zip(&broken) {
            assert_eq!(again.is_broken(Provider::SetlistFm, k), *b, "{k}");
            let plan = again.plan(Provider::SetlistFm, k);
            assert_eq!(plan.replace == Some(Replace::ServerError(503)), *b, "{k}");
        }
        assert!(
            keys.iter()
                .all(|k| !again.is_broken(Provider::Ticketmaster, k))
        );
        // A zero duration has already passed: nothing is broken.
        let healed = Faults::new("broken=0.5:0s".parse().expect("parses"));
        assert!(keys.iter().all(|k| !healed.is_broken(Provider::Spotify, k)));
        let e = "5xx=0.1:2s".parse::<FaultSpec>().unwrap_err();
        assert!(e.contains("only latency, jitter, slow and broken"), "{e}");
    }

    #[test]
    fn parses_the_documented_example() {
        let spec: FaultSpec = "latency=0.05:200ms,429=0.05,5xx=0.05,malformed=0.03,truncated=0.02,drop=0.02,slow=0.02:2s,seed=7"
            .parse()
            .unwrap();
        assert_eq!(spec.seed, Some(7));
        for p in Provider::ALL {
            let r = spec.rates(p);
            assert_eq!(r.latency, 0.05);
            assert_eq!(r.latency_delay, Duration::from_millis(200));
            assert_eq!(r.rate_limit, 0.05);
            assert_eq!(r.server_error, 0.05);
            assert_eq!(r.malformed, 0.03);
            assert_eq!(r.truncated, 0.02);
            assert_eq!(r.drop, 0.02);
            assert_eq!(r.slow, 0.02);
            assert_eq!(r.slow_delay, Duration::from_secs(2));
        }
    }

    #[test]
    fn provider_prefix_overrides_whatever_the_order() {
        let spec: FaultSpec = "tm.5xx=0,5xx=0.5".parse().unwrap();
        assert_eq!(spec.ticketmaster.server_error, 0.0);
        assert_eq!(spec.spotify.server_error, 0.5);
        assert_eq!(spec.setlistfm.server_error, 0.5);
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "5xx",
            "5xx=2",
            "boom=0.1",
            "429=0.1:2s",
            "mars.5xx=0.1",
            "seed=x",
        ] {
            assert!(bad.parse::<FaultSpec>().is_err(), "{bad}");
        }
        assert!("".parse::<FaultSpec>().unwrap().is_none());
        assert!("none".parse::<FaultSpec>().unwrap().is_none());
    }

    #[test]
    fn same_seed_same_plans() {
        let spec: FaultSpec = "5xx=0.5,drop=0.2,seed=3".parse().unwrap();
        let a = Faults::new(spec.clone());
        let b = Faults::new(spec);
        for _ in 0..50 {
            assert_eq!(
                a.plan(Provider::Spotify, "/v1/albums/x"),
                b.plan(Provider::Spotify, "/v1/albums/x")
            );
        }
    }

    #[test]
    fn jitter_spreads_delays_up_to_its_bound_without_moving_other_faults() {
        let spec: FaultSpec = "tm.jitter=1:40ms,seed=9".parse().unwrap();
        assert_eq!(spec.ticketmaster.jitter_max, Duration::from_millis(40));
        assert!(
            spec.spotify.is_none(),
            "a tm. prefix touches Ticketmaster only"
        );
        let faults = Faults::new(spec);
        let delays: Vec<Duration> = (0..400)
            .map(|_| {
                let plan = faults.plan(Provider::Ticketmaster, "/x");
                assert!(
                    plan.labels(true).is_empty(),
                    "jitter is not a fault of the answer"
                );
                plan.jitter.expect("rate 1: every request is jittered")
            })
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(40)));
        // Uniform: both ends of the range are used.
        assert!(delays.iter().any(|d| *d < Duration::from_millis(5)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(35)));

        // Turning jitter on elsewhere leaves a provider's fault sequence as it was.
        let plain = Faults::new("5xx=0.5,seed=4".parse().unwrap());
        let jittered = Faults::new("5xx=0.5,spotify.jitter=1,seed=4".parse().unwrap());
        for _ in 0..50 {
            assert_eq!(
                plain.plan(Provider::SetlistFm, "/a"),
                jittered.plan(Provider::SetlistFm, "/a")
            );
        }
        assert_eq!(
            "jitter=0.5:2s"
                .parse::<FaultSpec>()
                .unwrap()
                .setlistfm
                .jitter_max,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn spoiled_bodies_do_not_parse() {
        let body = br#"{"a":[1,2,3],"b":"x"}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(&malform(body)).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(&truncate(body)).is_err());
        assert!(body.starts_with(&truncate(body)));
    }
}
