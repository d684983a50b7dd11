//! Regrouping against none: the DROM profile protected end to end with
//! `auto`, with the rules' regrouping plan and with `--no-regroup`.
//!
//! `cargo bench --bench regroup` (plain harness, one timed run per case) at
//! the scales of `CELLMASK_BENCH_DROM` (default `0.05`, the demo's; `1` is
//! the generator's full year). Prints per flow: time, cells, primary
//! secrets, secondary cells, masked cells, masked value and share, and what
//! regrouping did. Figures in benches/README.md.

mod common;
use common::scales;

use std::time::Instant;

use cellmask::protect::{self, Options};
use cellmask::rules::Rules;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    for scale in scales("CELLMASK_BENCH_DROM", "0.05") {
        let path = common::drom_file(dir.path(), scale);
        let mut total = [0.0f64; 2];
        for flow in ["imports", "exports"] {
            let rules = Rules::builtin(&format!("drom-{flow}.toml")).unwrap();
            for (i, no_regroup) in [false, true].into_iter().enumerate() {
                let opts = Options {
                    quiet: true,
                    no_regroup,
                    ..Options::default()
                };
                let start = Instant::now();
                let run = protect::run(&rules, &path, &opts).unwrap();
                let secs = start.elapsed().as_secs_f64();
                total[i] += secs;
                let c = &run.report.totals;
                let regrouped = run.report.regroup.as_ref().map_or(String::new(), |r| {
                    format!(
                        "  codes regrouped {}/{}, units whole {}, residuals {}, partner moves {}, primary {} -> {}",
                        r.codes_regrouped,
                        r.codes,
                        r.units_whole,
                        r.residual_codes,
                        r.partner_moves,
                        r.primary_before,
                        r.primary_after
                    )
                });
                println!(
                    "drom {scale} {flow:7} {:10} {secs:>7.2} s  cells {:>6}  primary {:>6}  secondary {:>5}  masked {:>6}  masked value {:>18}  share {:>6.2}%  {}{regrouped}",
                    if no_regroup { "no-regroup" } else { "regroup" },
                    c.cells,
                    c.primary,
                    c.secondary,
                    c.primary + c.secondary,
                    c.masked_value,
                    c.masked_share * 100.0,
                    if run.protected() { "protected" } else { "NOT PROTECTED" },
                );
            }
        }
        println!(
            "drom {scale} all territories and flows, auto: regroup {:.2} s, no-regroup {:.2} s",
            total[0], total[1]
        );
    }
}
