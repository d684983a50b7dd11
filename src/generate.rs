//! `cellmask generate`: deterministic, realistic synthetic records for
//! tests, benchmarks and the demo.
//!
//! Operators have heavy-tailed (Pareto) sizes; each trades in a few
//! chapters and with a few partners, declares several times per cell, and
//! most detailed cells end up with one or two operators, as in the real
//! DROM detail files. The same profile, seed and scale always give the
//! same bytes.

use std::io::{self, Write};

use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{LogNormal, Pareto};

use crate::rules::builtin_file;

/// What kind of file to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The five DROM territories, both flows (columns of `rules/drom-*.toml`).
    Drom,
    /// Departments of France (columns of `rules/regional.toml`).
    Regional,
    /// A year of French customs detail (columns of `rules/national.toml`).
    National,
}

/// Generator settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub profile: Profile,
    pub seed: u64,
    /// 1.0 is a realistic full size; 0.01 a small test file.
    pub scale: f64,
    /// Reference year (the DROM profile writes it and picks the space product codes of that year).
    pub year: u32,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub records: u64,
}

/// A DROM territory of the generator: code, operators at scale 1, and its
/// partners with their weights.
type Territory = (&'static str, f64, &'static [(&'static str, f64)]);

/// Guyane's space products (SPEC section 6), with the 2022 code changes.
pub fn space_products(year: u32) -> [&'static str; 6] {
    if year >= 2022 {
        [
            "88026011", "88026019", "88026090", "88079021", "88079029", "88079030",
        ]
    } else {
        [
            "88026011", "88026019", "88026090", "88039021", "88039029", "88039030",
        ]
    }
}

/// Product codes of the Combined Nomenclature, grouped by chapter.
struct Products {
    chapters: Vec<(String, Vec<&'static str>)>,
}

impl Products {
    fn load() -> Products {
        let text = builtin_file("codes/cn8_2025.txt").expect("CN8 list is built in");
        let mut chapters: Vec<(String, Vec<&'static str>)> = Vec::new();
        for code in text.lines().map(str::trim).filter(|c| c.len() == 8) {
            match chapters.last_mut() {
                Some((ch, codes)) if ch.as_str() == &code[..2] => codes.push(code),
                _ => chapters.push((code[..2].to_string(), vec![code])),
            }
        }
        Products { chapters }
    }

    /// Chapter weights: the listed favourites first, then a long tail in a
    /// seed-dependent order.
    fn chapter_weights(&self, favourites: &[&str], rng: &mut ChaCha8Rng) -> Vec<f64> {
        let mut order: Vec<usize> = (0..self.chapters.len()).collect();
        order.shuffle(rng);
        order.sort_by_key(|&i| {
            favourites
                .iter()
                .position(|f| *f == self.chapters[i].0)
                .unwrap_or(usize::MAX)
        });
        let mut w = vec![0.0; self.chapters.len()];
        for (rank, &i) in order.iter().enumerate() {
            w[i] = 1.0 / (rank as f64 + 1.0).powf(1.3);
        }
        w
    }
}

/// Partner weights: listed partners with their weights, then every other
/// country of the partner list with a small tail weight.
fn partner_table(main: &[(&'static str, f64)], exclude: &[&str]) -> (Vec<&'static str>, Vec<f64>) {
    let text = builtin_file("hierarchies/partners.csv").expect("partners are built in");
    let mut codes: Vec<&'static str> = main.iter().map(|(c, _)| *c).collect();
    let mut weights: Vec<f64> = main.iter().map(|(_, w)| *w).collect();
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        let code = f.next().unwrap_or("");
        let parent = f.next().unwrap_or("");
        let leaf = code.len() == 2 && (parent == "EU27" || parent == "EXTRA_EU27");
        if leaf && code != "QU" && !codes.contains(&code) && !exclude.contains(&code) {
            codes.push(code);
            weights.push(0.004);
        }
    }
    (codes, weights)
}

/// One operator's trading pattern.
struct Operator {
    id: String,
    size: f64,
    lines: usize,
    products: Vec<&'static str>,
    partners: Vec<&'static str>,
    flows: &'static [&'static str],
}

struct World {
    products: Products,
    chapter_w: WeightedIndex<f64>,
    partners: Vec<&'static str>,
    partner_w: WeightedIndex<f64>,
}

impl World {
    fn new(
        favourite_chapters: &[&str],
        partners: &[(&'static str, f64)],
        exclude: &[&str],
        rng: &mut ChaCha8Rng,
    ) -> World {
        let products = Products::load();
        let cw = products.chapter_weights(favourite_chapters, rng);
        let (partners, pw) = partner_table(partners, exclude);
        World {
            chapter_w: WeightedIndex::new(cw).expect("weights"),
            products,
            partner_w: WeightedIndex::new(pw).expect("weights"),
            partners,
        }
    }

    /// Draws an operator of a given id; `lines_per_size` sets how many
    /// distinct cells an operator of size 1 declares in.
    fn operator(&self, id: String, lines_per_size: f64, rng: &mut ChaCha8Rng) -> Operator {
        let size: f64 = Pareto::new(1.0f64, 1.2f64).expect("pareto").sample(rng);
        let size = size.min(1e5);
        let lines = (1.0 + lines_per_size * size.powf(0.7)).round().min(5000.0) as usize;
        let n_chapters = 1 + (size.powf(0.3) as usize).min(5);
        let mut products = Vec::new();
        for _ in 0..n_chapters {
            let (_, codes) = &self.products.chapters[self.chapter_w.sample(rng)];
            let n = (3.0 + 4.0 * size.sqrt()).min(200.0) as usize;
            // Operators trade in neighbouring codes: a run of the chapter.
            // Popular codes come first in a chapter's draw: the start is skewed to the front.
            let start = ((codes.len() as f64) * rng.gen::<f64>().powi(2)) as usize;
            products.extend(codes.iter().cycle().skip(start).take(n.min(codes.len())));
        }
        let n_partners = 1 + ((2.0 * size.powf(0.5)) as usize).min(40);
        let partners = (0..n_partners)
            .map(|_| self.partners[self.partner_w.sample(rng)])
            .collect();
        let flows: &'static [&'static str] = match rng.gen_range(0..100) {
            0..=44 => &["I"],
            45..=74 => &["E"],
            _ => &["I", "E"],
        };
        Operator {
            id,
            size,
            lines,
            products,
            partners,
            flows,
        }
    }
}

/// Writes one operator's declarations. `prefix` holds the columns before
/// `flow` (territory or nothing), `dept` the department column if any.
fn declarations(
    op: &Operator,
    cols: &mut dyn FnMut(&str, &str, &str, i64) -> io::Result<()>,
    rng: &mut ChaCha8Rng,
) -> io::Result<u64> {
    let value = LogNormal::new(0.0, 1.0).expect("lognormal");
    let mut n = 0;
    for _ in 0..op.lines {
        let product = op.products[rng.gen_range(0..op.products.len())];
        let partner = op.partners[rng.gen_range(0..op.partners.len())];
        let flow = op.flows[rng.gen_range(0..op.flows.len())];
        let total = op.size.powf(0.3) * 8_000.0 * value.sample(rng);
        let decls = 1 + (0..19).take_while(|_| rng.gen_bool(0.45)).count();
        for _ in 0..decls {
            let cents = (total / decls as f64 * rng.gen_range(0.5..1.5) * 100.0)
                .round()
                .max(1.0) as i64;
            cols(flow, product, partner, cents)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Departments with the concentration of French trade: a few port,
/// border and industrial departments (and the head-office departments
/// of Paris) hold most of the value; most departments trade little.
struct Departments {
    all: Vec<&'static str>,
    /// Every department, the big ones far heavier: small operators.
    any: WeightedIndex<f64>,
    /// The big ones only, by rank: large operators.
    big: Vec<&'static str>,
    big_w: WeightedIndex<f64>,
}

impl Departments {
    /// Head offices (75, 92), ports (13 Marseille-Fos, 76 Le Havre-Rouen,
    /// 59 Dunkerque, 44 Saint-Nazaire), Roissy (95), aerospace (31),
    /// border and industrial departments, by weight of trade.
    const BIG: [&'static str; 24] = [
        "75", "92", "13", "76", "59", "31", "69", "67", "95", "94", "93", "78", "57", "68", "77",
        "91", "44", "62", "38", "33", "01", "74", "06", "34",
    ];

    fn load() -> Departments {
        let text = builtin_file("hierarchies/departments.csv").expect("departments are built in");
        let all: Vec<&'static str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .filter(|c| !c.starts_with('R') && *c != "FR")
            .collect();
        let rank = |d: &str| Self::BIG.iter().position(|b| *b == d);
        let any = all
            .iter()
            .map(|d| rank(d).map_or(1.0, |r| 40.0 / (r as f64 + 1.0).powf(0.8)))
            .collect::<Vec<f64>>();
        let big: Vec<&'static str> = Self::BIG.to_vec();
        let big_w = (0..big.len())
            .map(|r| 1.0 / (r as f64 + 1.0).powf(1.1))
            .collect::<Vec<f64>>();
        Departments {
            any: WeightedIndex::new(any).expect("weights"),
            big_w: WeightedIndex::new(big_w).expect("weights"),
            all,
            big,
        }
    }

    /// An operator's departments, home first: large operators are in the
    /// big departments and declare in up to three more.
    fn of(&self, size: f64, rng: &mut ChaCha8Rng) -> Vec<&'static str> {
        let large = size > 8.0;
        let draw = |rng: &mut ChaCha8Rng| {
            if large {
                self.big[self.big_w.sample(rng)]
            } else {
                self.all[self.any.sample(rng)]
            }
        };
        let mut depts = vec![draw(rng)];
        let extra = if large {
            (size.log10() as usize).min(3)
        } else {
            0
        };
        for _ in 0..extra {
            let d = draw(rng);
            if !depts.contains(&d) {
                depts.push(d);
            }
        }
        depts
    }
}

fn cents(v: i64) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

/// Generates records into a new file at `path` (not atomically: for
/// benchmarks and tools; the CLI writes through [`crate::write::AtomicDir`]).
pub fn generate_file(s: &Settings, path: &std::path::Path) -> io::Result<Written> {
    let mut w = io::BufWriter::new(std::fs::File::create(path)?);
    let written = generate(s, &mut w)?;
    w.flush()?;
    Ok(written)
}

/// National records at `scale` (seed 1) in `path`: the benchmarks' input.
pub fn national_file(scale: f64, path: &std::path::Path) -> io::Result<Written> {
    generate_file(
        &Settings {
            profile: Profile::National,
            seed: 1,
            scale,
            year: 2025,
        },
        path,
    )
}

/// Generates records into `w`.
pub fn generate(s: &Settings, w: &mut dyn Write) -> io::Result<Written> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(s.seed ^ (s.profile as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let scale = s.scale.max(0.0);
    let mut records = 0u64;
    match s.profile {
        Profile::National => {
            let world = World::new(
                &[
                    "84", "85", "87", "27", "30", "39", "88", "22", "90", "29", "62", "61", "94",
                    "73", "02",
                ],
                &[
                    ("DE", 14.0),
                    ("BE", 9.0),
                    ("IT", 8.0),
                    ("ES", 8.0),
                    ("US", 7.0),
                    ("NL", 6.0),
                    ("GB", 6.0),
                    ("CN", 6.0),
                    ("CH", 4.0),
                    ("PL", 2.5),
                    ("JP", 1.5),
                    ("TR", 1.2),
                    ("IN", 1.0),
                    ("SE", 1.0),
                    ("AT", 1.0),
                    ("PT", 1.0),
                    ("CZ", 0.8),
                    ("IE", 0.8),
                    ("KR", 0.7),
                    ("MA", 0.7),
                    ("DZ", 0.6),
                    ("TN", 0.5),
                    ("SG", 0.5),
                    ("BR", 0.5),
                    ("CA", 0.5),
                    ("RU", 0.3),
                    ("AE", 0.5),
                    ("SA", 0.4),
                    ("VN", 0.4),
                    ("QU", 0.1),
                ],
                &["FR", "GP", "MQ", "GF", "RE", "YT"],
                &mut rng,
            );
            writeln!(w, "operator,flow,product,country,value")?;
            let n_ops = (45_000.0 * scale).round().max(1.0) as usize;
            for i in 0..n_ops {
                let op = world.operator(format!("N{i:06}"), 20.0, &mut rng);
                let id = op.id.clone();
                records += declarations(
                    &op,
                    &mut |flow, product, partner, v| {
                        writeln!(w, "{id},{flow},{product},{partner},{}", cents(v))
                    },
                    &mut rng,
                )?;
            }
        }
        Profile::Regional => {
            // A national-size year (as many operators and records as the
            // national profile), each operator with a home department.
            let world = World::new(
                &[
                    "84", "85", "87", "27", "30", "39", "88", "22", "90", "29", "62", "61", "94",
                    "73", "02",
                ],
                &[
                    ("DE", 14.0),
                    ("BE", 9.0),
                    ("IT", 8.0),
                    ("ES", 8.0),
                    ("US", 7.0),
                    ("NL", 6.0),
                    ("GB", 6.0),
                    ("CN", 6.0),
                    ("CH", 4.0),
                    ("PL", 2.5),
                    ("JP", 1.5),
                    ("TR", 1.2),
                    ("MA", 0.7),
                    ("DZ", 0.6),
                ],
                &["FR", "GP", "MQ", "GF", "RE", "YT"],
                &mut rng,
            );
            let departments = Departments::load();
            writeln!(w, "operator,flow,department,product,country,value")?;
            let n_ops = (45_000.0 * scale).round().max(1.0) as usize;
            for i in 0..n_ops {
                let mut op = world.operator(format!("R{i:06}"), 20.0, &mut rng);
                // A few large energy operators trade natural gas and electricity.
                if i % 997 == 5 {
                    op.products = vec!["27112100", "27160000"];
                    op.size *= 20.0;
                }
                let depts = departments.of(op.size, &mut rng);
                let id = op.id.clone();
                records += declarations(
                    &op,
                    &mut |flow, product, partner, v| {
                        // Mostly the home department, the rest in the others.
                        let k = if depts.len() > 1 && v % 4 == 0 {
                            1 + (v as usize / 4) % (depts.len() - 1)
                        } else {
                            0
                        };
                        let dept = depts[k];
                        writeln!(w, "{id},{flow},{dept},{product},{partner},{}", cents(v))
                    },
                    &mut rng,
                )?;
            }
        }
        Profile::Drom => {
            writeln!(w, "operator,territory,flow,product,country,value,year")?;
            let year = s.year;
            let territories: [Territory; 5] = [
                (
                    "RE",
                    2_500.0,
                    &[
                        ("FR", 60.0),
                        ("YT", 4.0),
                        ("MU", 3.0),
                        ("MG", 3.0),
                        ("ZA", 2.0),
                        ("CN", 4.0),
                        ("DE", 3.0),
                        ("IT", 2.0),
                        ("ES", 2.0),
                        ("BE", 2.0),
                        ("SG", 1.0),
                        ("IN", 1.0),
                    ],
                ),
                (
                    "GP",
                    1_500.0,
                    &[
                        ("FR", 60.0),
                        ("MQ", 8.0),
                        ("GF", 2.0),
                        ("US", 3.0),
                        ("DO", 1.0),
                        ("TT", 1.0),
                        ("CN", 2.0),
                        ("DE", 2.0),
                        ("IT", 2.0),
                        ("ES", 2.0),
                        ("BE", 2.0),
                    ],
                ),
                (
                    "MQ",
                    1_500.0,
                    &[
                        ("FR", 60.0),
                        ("GP", 8.0),
                        ("GF", 2.0),
                        ("US", 3.0),
                        ("TT", 1.0),
                        ("DO", 1.0),
                        ("CN", 2.0),
                        ("DE", 2.0),
                        ("IT", 2.0),
                        ("ES", 2.0),
                        ("BE", 2.0),
                    ],
                ),
                (
                    "GF",
                    600.0,
                    &[
                        ("FR", 55.0),
                        ("GP", 4.0),
                        ("MQ", 4.0),
                        ("BR", 4.0),
                        ("SR", 3.0),
                        ("US", 2.0),
                        ("CN", 2.0),
                        ("DE", 2.0),
                        ("IT", 2.0),
                        ("CH", 2.0),
                    ],
                ),
                (
                    "YT",
                    400.0,
                    &[
                        ("FR", 55.0),
                        ("RE", 10.0),
                        ("KM", 4.0),
                        ("MG", 4.0),
                        ("CN", 3.0),
                        ("ZA", 2.0),
                        ("AE", 2.0),
                        ("IN", 2.0),
                    ],
                ),
            ];
            for (t, n, partners) in territories {
                let world = World::new(
                    &[
                        "22", "27", "87", "30", "84", "85", "02", "04", "03", "08", "17", "71",
                        "39", "94",
                    ],
                    partners,
                    &[t],
                    &mut rng,
                );
                let n_ops = (n * scale).round().max(1.0) as usize;
                for i in 0..n_ops {
                    let op = world.operator(format!("{t}{i:05}"), 6.0, &mut rng);
                    let id = op.id.clone();
                    records += declarations(
                        &op,
                        &mut |flow, product, partner, v| {
                            writeln!(w, "{id},{t},{flow},{product},{partner},{},{year}", cents(v))
                        },
                        &mut rng,
                    )?;
                }
                if t == "GF" {
                    // The space centre: a few large operators in launcher and satellite codes.
                    let space = space_products(year);
                    for (k, id) in ["GFSPACE1", "GFSPACE2", "GFSPACE3"].iter().enumerate() {
                        for (j, product) in space.iter().enumerate() {
                            if (j + k) % 2 == 0 {
                                for (flow, partner) in
                                    [("I", "FR"), ("I", "DE"), ("E", "FR"), ("I", "IT")]
                                {
                                    let v =
                                        rng.gen_range(1_000_000..50_000_000) * 100 * (3 - k as i64);
                                    writeln!(
                                        w,
                                        "{id},GF,{flow},{product},{partner},{},{year}",
                                        cents(v)
                                    )?;
                                    records += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    w.flush()?;
    Ok(Written { records })
}
