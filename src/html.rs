//! `report.html`: the release at a glance for a release team, one
//! self-contained page (inline SVG charts drawn with plotters, inline CSS,
//! no script, no network), the same bytes on every run.
//!
//! It is built from the release alone: published values and which cells
//! are masked (as `published.csv` says), plus counts of cells by status.
//! No masked value, contributor id or contributor count can reach it: the
//! view it reads ([`Released`]) holds none. Value shares are computed only
//! where the group's total is published (masked value = published total -
//! published detail, which anyone can compute from the release).

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::hierarchy::NodeId;
use crate::money::format_amount;
use crate::report::Report;
use crate::table::{Status, Table};

/// One table as released: per cell its coordinates, its published value
/// (None: masked) and whether it is a primary secret (for counts only).
struct Released<'a> {
    table: &'a Table,
    split: String,
    /// The table's territory (split variable `territory`), if any.
    territory: Option<String>,
    /// Its flow (split variable `flow`, else the release's one flow, else
    /// its split values): what a fact sheet's sections are named after.
    flow: String,
    cells: Vec<(Vec<NodeId>, Option<i64>, bool)>,
}

impl<'a> Released<'a> {
    /// `flow`: the release's one flow when the table has no `flow` split.
    fn of(table: &'a Table, split_names: &[String], flow: Option<&str>) -> Released<'a> {
        let split_value = |name: &str| {
            split_names
                .iter()
                .position(|n| n == name)
                .map(|i| table.split[i].clone())
        };
        let cells = table
            .cells
            .iter()
            .map(|c| {
                let k = table.coords(c.key);
                let coords = (0..table.dims.len()).map(|d| k[d]).collect();
                let value = (!c.status.is_masked()).then_some(c.value);
                (coords, value, c.status == Status::Primary)
            })
            .collect();
        let split = split_names
            .iter()
            .zip(&table.split)
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let flow = split_value("flow")
            .or(flow.map(str::to_string))
            .unwrap_or_else(|| split.clone());
        Released {
            table,
            territory: split_value("territory"),
            flow,
            split,
            cells,
        }
    }

    /// The published value of the cell at `coords`, if it exists and is published.
    fn value(&self, coords: &[NodeId]) -> Option<i64> {
        let key = self.table.key(coords);
        self.table.find(key).and_then(|i| self.cells[i].1)
    }
}

/// Which dimension plays which part, by name (first and second otherwise).
struct Roles {
    product: usize,
    partner: Option<usize>,
    /// A geographic dimension (regional files: department > region > France).
    geo: Option<usize>,
}

impl Roles {
    fn of(names: &[String]) -> Roles {
        let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
        let product = find(&["product"]).unwrap_or(0);
        let partner = find(&["country", "partner"]).or((names.len() > 1).then_some(1));
        let geo = find(&["department", "region", "territory"]);
        Roles {
            product,
            partner: partner.filter(|&p| p != product),
            geo: geo.filter(|&g| g != product),
        }
    }
}

/// A bar: its label and its height in percent.
type Bar = (String, f64);

/// The report of one release (`split_names`, `dim_names` as in the
/// outputs; `decimals` of the values).
pub fn release_report(
    report: &Report,
    tables: &[Table],
    split_names: &[String],
    dim_names: &[String],
    decimals: u32,
) -> String {
    let released: Vec<Released> = tables
        .iter()
        .map(|t| Released::of(t, split_names, None))
        .collect();
    let roles = Roles::of(dim_names);
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>Release report: {}</h1>\n<p class=\"verdict\">{} &middot; rules <b>{}</b> &middot; \
         {} table(s)</p>",
        esc(&report.input),
        esc(&first_line(&report.message)),
        esc(&report.rules),
        tables.len()
    );

    // Per table: cells by status.
    body.push_str(
        "<h2>Tables</h2>\n<table><tr><th>table</th><th>cells</th><th>published</th>\
         <th>primary secrets</th><th>secondary</th><th>masked share of cells</th></tr>\n",
    );
    for r in &released {
        let n = r.cells.len();
        let masked = r.cells.iter().filter(|c| c.1.is_none()).count();
        let primary = r.cells.iter().filter(|c| c.2).count();
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{n}</td><td>{}</td><td>{primary}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.split),
            n - masked,
            masked - primary,
            pct(masked, n)
        );
    }
    body.push_str("</table>\n");
    let status_bars: Vec<(String, f64, f64)> = released
        .iter()
        .map(|r| {
            let n = r.cells.len().max(1) as f64;
            let primary = r.cells.iter().filter(|c| c.2).count() as f64;
            let masked = r.cells.iter().filter(|c| c.1.is_none()).count() as f64;
            (
                r.table.split.join("-"),
                100.0 * primary / n,
                100.0 * (masked - primary) / n,
            )
        })
        .collect();
    body.push_str(&figure(
        "Primary and secondary cells, share of each table's cells",
        &stacked_chart(&status_bars),
    ));

    // By product group (the product tree's first level).
    let (cells_by_group, value_by_group) =
        by_group(&released, roles.product, roles.partner.is_some());
    body.push_str(&figure(
        &format!(
            "Masked share of cells by {} group",
            esc(&dim_names[roles.product])
        ),
        &bar_chart(&cells_by_group, "% of cells"),
    ));
    if !value_by_group.is_empty() {
        body.push_str(&figure(
            &format!(
                "Masked share of value by {} group (where the group's total is published)",
                esc(&dim_names[roles.product])
            ),
            &bar_chart(&value_by_group, "% of value"),
        ));
    }
    if let Some(p) = roles.partner {
        let (cells_by_zone, _) = by_group(&released, p, false);
        body.push_str(&figure(
            &format!("Masked share of cells by {} zone", esc(&dim_names[p])),
            &bar_chart(&cells_by_zone, "% of cells"),
        ));
    }
    // By territory (a split variable) or department (a dimension).
    let by_place = by_place(&released, &roles);
    if !by_place.is_empty() {
        body.push_str(&figure(
            "Masked share of cells by territory or department",
            &bar_chart(&by_place, "% of cells"),
        ));
    }

    if let Some(g) = &report.regroup {
        let _ = writeln!(
            body,
            "<h2>Regrouping</h2>\n<p>{} of {} detailed codes published under a coarser or \
             residual code ({} residual codes, {} partner moves); primary secrets {} at the \
             detailed codes, {} left for secondary suppression.</p>",
            g.codes_regrouped,
            g.codes,
            g.residual_codes,
            g.partner_moves,
            g.primary_before,
            g.primary_after
        );
    }

    body.push_str(&fact_sheets(&released, &roles, decimals));
    page(&format!("cellmask release report: {}", report.input), &body)
}

/// One release among those [`releases_report`] puts on one page.
pub struct Part<'a> {
    /// What the page calls it (its folder).
    pub name: String,
    pub tables: &'a [Table],
    pub split_names: &'a [String],
    pub dim_names: &'a [String],
    /// The release's one flow, when its tables have no `flow` split.
    pub flow: Option<String>,
}

/// One page over several releases of the same territories or departments
/// (DROM imports and exports are separate releases): per release its
/// tables and masked share of cells, the masked share by territory or
/// department, and fact sheets with every release's flow side by side.
/// Built from the releases alone, as [`release_report`].
pub fn releases_report(parts: &[Part], decimals: u32) -> String {
    let mut released: Vec<Released> = Vec::new();
    let mut body = format!("<h1>Fact sheets over {} releases</h1>\n", parts.len());
    body.push_str(
        "<table><tr><th>release</th><th>flow</th><th>tables</th><th>cells</th>\
         <th>masked share of cells</th></tr>\n",
    );
    for p in parts {
        let of_part: Vec<Released> = p
            .tables
            .iter()
            .map(|t| Released::of(t, p.split_names, p.flow.as_deref()))
            .collect();
        let n: usize = of_part.iter().map(|r| r.cells.len()).sum();
        let masked: usize = of_part
            .iter()
            .map(|r| r.cells.iter().filter(|c| c.1.is_none()).count())
            .sum();
        let mut flows: Vec<&str> = of_part.iter().map(|r| r.flow.as_str()).collect();
        flows.dedup();
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{n}</td><td>{}</td></tr>",
            esc(&p.name),
            esc(&flows
                .iter()
                .map(|f| flow_name_label(f))
                .collect::<Vec<_>>()
                .join(", ")),
            p.tables.len(),
            pct(masked, n)
        );
        released.extend(of_part);
    }
    body.push_str("</table>\n");
    let roles = Roles::of(parts.first().map_or(&[][..], |p| p.dim_names));
    let by_place = by_place(&released, &roles);
    if !by_place.is_empty() {
        body.push_str(&figure(
            "Masked share of cells by territory or department",
            &bar_chart(&by_place, "% of cells"),
        ));
    }
    body.push_str(&fact_sheets(&released, &roles, decimals));
    page("cellmask fact sheets", &body)
}

/// Most bars a chart shows: past it, first-level codes are grouped by
/// their first two characters (HS chapters under SH4 headings).
const MAX_BARS: usize = 30;

/// Per first-level node of dimension `d` (over every table; grouped by
/// chapter when there are too many): the masked share of cells; and, where
/// the nodes' totals (every other dimension at its root) are published,
/// the masked share of their value computed from published cells only:
/// (total - published leaves) / total.
fn by_group(released: &[Released], d: usize, with_value: bool) -> (Vec<Bar>, Vec<Bar>) {
    let mut codes: Vec<String> = Vec::new();
    for r in released {
        let h = &r.table.dims[d];
        for &g in h.children(h.root()) {
            if !codes.iter().any(|c| c == h.code(g)) {
                codes.push(h.code(g).to_string());
            }
        }
    }
    let chapters = codes.len() > MAX_BARS;
    let label = |code: &str| -> String {
        if chapters {
            code.chars().take(2).collect()
        } else {
            code.to_string()
        }
    };
    // Per label: cells, masked, total, published leaves, value known.
    let mut acc: Vec<(String, usize, usize, i128, i128, bool)> = Vec::new();
    for r in released {
        let h = &r.table.dims[d];
        let root: Vec<NodeId> = r.table.dims.iter().map(|h| h.root()).collect();
        // Per first-level node: its slot in `acc` and its published total.
        let mut slot_of: Vec<Option<(usize, Option<i64>)>> = vec![None; h.len()];
        for &g in h.children(h.root()) {
            let l = label(h.code(g));
            let i = match acc.iter().position(|a| a.0 == l) {
                Some(i) => i,
                None => {
                    acc.push((l, 0, 0, 0, 0, with_value));
                    acc.len() - 1
                }
            };
            let mut at = root.clone();
            at[d] = g;
            let total = r.value(&at).filter(|&t| t > 0);
            if total.is_none() {
                acc[i].5 = false;
            }
            acc[i].3 += total.unwrap_or(0) as i128;
            slot_of[g as usize] = Some((i, total));
        }
        // Each cell once, in the group of its first-level ancestor.
        for (coords, v, _) in &r.cells {
            let Some(g) = h.branch(coords[d]) else {
                continue;
            };
            let Some((i, total)) = slot_of[g as usize] else {
                continue;
            };
            acc[i].1 += 1;
            acc[i].2 += v.is_none() as usize;
            let others_at_root = (0..coords.len()).all(|k| k == d || coords[k] == root[k]);
            if total.is_some() && others_at_root && h.is_leaf(coords[d]) {
                acc[i].4 += v.unwrap_or(0) as i128;
            }
        }
    }
    acc.sort_by(|a, b| a.0.cmp(&b.0));
    let cells = acc
        .iter()
        .filter(|a| a.1 > 0)
        .map(|a| (a.0.clone(), 100.0 * a.2 as f64 / a.1 as f64))
        .collect();
    let value = acc
        .iter()
        .filter(|a| a.5 && a.3 > 0)
        .map(|a| (a.0.clone(), 100.0 * (a.3 - a.4).max(0) as f64 / a.3 as f64))
        .collect();
    (cells, value)
}

/// Masked share of cells per territory (split variable `territory`) or
/// per department (leaves of a geographic dimension).
fn by_place(released: &[Released], roles: &Roles) -> Vec<Bar> {
    let mut out: Vec<(String, usize, usize)> = Vec::new();
    let mut add = |place: String, masked: bool| match out.iter_mut().find(|o| o.0 == place) {
        Some(o) => {
            o.1 += 1;
            o.2 += masked as usize;
        }
        None => out.push((place, 1, masked as usize)),
    };
    if released.iter().any(|r| r.territory.is_some()) {
        for r in released {
            for c in &r.cells {
                add(r.territory.clone().unwrap_or_default(), c.1.is_none());
            }
        }
    } else if let Some(g) = roles.geo {
        for r in released {
            let h = &r.table.dims[g];
            for c in &r.cells {
                if h.is_leaf(c.0[g]) {
                    add(h.code(c.0[g]).to_string(), c.1.is_none());
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter()
        .map(|(p, n, m)| (p, 100.0 * m as f64 / n.max(1) as f64))
        .collect()
}

/// Places with, per table holding them, the place's node in the
/// geographic dimension (None: the place is the table's territory).
type Places = Vec<(String, Vec<(usize, Option<NodeId>)>)>;

/// A fact sheet per territory (DROM files) or department (regional
/// files), from published cells only: its total per flow, top partners,
/// top product groups, masked share of cells.
fn fact_sheets(released: &[Released], roles: &Roles, decimals: u32) -> String {
    // (place, table index, coordinate of the place in the geo dimension).
    let mut places: Places = Vec::new();
    for (i, r) in released.iter().enumerate() {
        if let Some(p) = r.territory.clone() {
            match places.iter_mut().find(|x| x.0 == p) {
                Some(x) => x.1.push((i, None)),
                None => places.push((p, vec![(i, None)])),
            }
        } else if let Some(g) = roles.geo {
            let h = &r.table.dims[g];
            for n in (0..h.len() as NodeId).filter(|&n| h.is_leaf(n)) {
                let p = h.code(n).to_string();
                match places.iter_mut().find(|x| x.0 == p) {
                    Some(x) => x.1.push((i, Some(n))),
                    None => places.push((p, vec![(i, Some(n))])),
                }
            }
        }
    }
    if places.is_empty() {
        return String::new();
    }
    places.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("<h2>Fact sheets</h2>\n<div class=\"sheets\">\n");
    for (place, parts) in places {
        let _ = writeln!(out, "<section><h3>{}</h3>", esc(&place));
        for (i, at) in parts {
            let r = &released[i];
            let roots: Vec<NodeId> = r.table.dims.iter().map(|h| h.root()).collect();
            let mut base = roots.clone();
            if let (Some(g), Some(n)) = (roles.geo, at) {
                base[g] = n;
            }
            let in_place = |c: &[NodeId]| match (roles.geo, at) {
                (Some(g), Some(n)) => c[g] == n,
                _ => true,
            };
            let cells: Vec<&(Vec<NodeId>, Option<i64>, bool)> =
                r.cells.iter().filter(|c| in_place(&c.0)).collect();
            if cells.is_empty() {
                continue;
            }
            let masked = cells.iter().filter(|c| c.1.is_none()).count();
            let flow_name = &r.flow;
            let total = r
                .value(&base)
                .map_or("masked".to_string(), |v| format_amount(v, decimals));
            let _ = writeln!(
                out,
                "<h4>{}</h4><p>total {} &middot; {} of {} cells masked ({})</p>",
                esc(&flow_name_label(flow_name)),
                esc(&total),
                masked,
                cells.len(),
                pct(masked, cells.len())
            );
            let top = |d: usize, leaves: bool| -> Vec<(String, i64)> {
                let h = &r.table.dims[d];
                let mut v: Vec<(String, i64)> = cells
                    .iter()
                    .filter(|(c, _, _)| {
                        (0..c.len()).all(|k| k == d || c[k] == base[k])
                            && if leaves {
                                h.is_leaf(c[d])
                            } else {
                                h.parent(c[d]) == Some(h.root())
                            }
                    })
                    .filter_map(|(c, v, _)| v.map(|v| (h.code(c[d]).to_string(), v)))
                    .collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(5);
                v
            };
            let list = |title: &str, items: Vec<(String, i64)>| -> String {
                let mut s = format!("<p class=\"top\">{title}: ");
                if items.is_empty() {
                    s.push_str("none published");
                }
                let parts: Vec<String> = items
                    .iter()
                    .map(|(c, v)| format!("{} {}", esc(c), esc(&format_amount(*v, decimals))))
                    .collect();
                s.push_str(&parts.join(" &middot; "));
                s.push_str("</p>\n");
                s
            };
            if let Some(p) = roles.partner {
                out.push_str(&list("top partners", top(p, true)));
            }
            out.push_str(&list("top product groups", top(roles.product, false)));
        }
        out.push_str("</section>\n");
    }
    out.push_str("</div>\n");
    out
}

fn flow_name_label(f: &str) -> String {
    match f {
        "I" => "imports".into(),
        "E" => "exports".into(),
        other => other.into(),
    }
}

/// The report of a batch: one line a file and the masked share of cells
/// per file (`rows`: file, verdict, cells, masked cells).
pub fn batch_report(rows: &[(String, String, usize, usize)]) -> String {
    let mut body = String::from(
        "<h1>Batch report</h1>\n<table><tr><th>file</th><th>verdict</th><th>cells</th>\
         <th>masked share of cells</th></tr>\n",
    );
    for (file, verdict, cells, masked) in rows {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{cells}</td><td>{}</td></tr>",
            esc(file),
            esc(verdict),
            pct(*masked, *cells)
        );
    }
    body.push_str("</table>\n");
    let bars: Vec<Bar> = rows
        .iter()
        .map(|(f, _, n, m)| (f.clone(), 100.0 * *m as f64 / (*n).max(1) as f64))
        .collect();
    body.push_str(&figure(
        "Masked share of cells by file",
        &bar_chart(&bars, "% of cells"),
    ));
    page("cellmask batch report", &body)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn pct(part: usize, whole: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn figure(caption: &str, svg: &str) -> String {
    format!("<figure>{svg}<figcaption>{caption}</figcaption></figure>\n")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:72em}}table{{border-collapse:\
         collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}\
         figure{{margin:1.5em 0}}figcaption{{font-size:.9em;color:#444}}.sheets{{display:grid;\
         grid-template-columns:repeat(auto-fill,minmax(22em,1fr));gap:1em}}section{{border:1px \
         solid #ddd;padding:.5em 1em}}.top{{font-size:.9em}}</style></head><body>\n{}</body>\
         </html>\n",
        esc(title),
        body
    )
}

/// Chart size (pixels).
const SIZE: (u32, u32) = (860, 320);

/// A bar chart of percentages (SVG).
fn bar_chart(bars: &[Bar], y_desc: &str) -> String {
    let stacks: Vec<(String, Vec<f64>)> = bars.iter().map(|b| (b.0.clone(), vec![b.1])).collect();
    stacked(&stacks, &[("", RGBColor(31, 119, 180))], y_desc)
}

/// Stacked bars (primary, secondary) of percentages per table (SVG).
fn stacked_chart(bars: &[(String, f64, f64)]) -> String {
    let stacks: Vec<(String, Vec<f64>)> =
        bars.iter().map(|b| (b.0.clone(), vec![b.1, b.2])).collect();
    let series = [
        ("primary", RGBColor(214, 39, 40)),
        ("secondary", RGBColor(255, 127, 14)),
    ];
    stacked(&stacks, &series, "% of cells")
}

/// Bars of percentages, each a stack of `series` (a legend when there are
/// several), drawn as rectangles in order: plotters' Histogram sums
/// through a hash map, whose order would change the bytes from run to run.
fn stacked(bars: &[(String, Vec<f64>)], series: &[(&str, RGBColor)], y_desc: &str) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let _ = root.fill(&WHITE);
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let n = bars.len().max(1);
        let chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..100f64);
        if let Ok(mut chart) = chart {
            let _ = chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n.min(40))
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .y_desc(y_desc)
                .draw();
            for (k, &(name, color)) in series.iter().enumerate() {
                let drawn = chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let below: f64 = b.1[..k].iter().sum();
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), below),
                            (
                                SegmentValue::Exact(i + 1),
                                below + b.1.get(k).copied().unwrap_or(0.0),
                            ),
                        ],
                        color.filled(),
                    );
                    bar.set_margin(0, 0, 2, 2);
                    bar
                }));
                if let (Ok(s), true) = (drawn, series.len() > 1) {
                    s.label(name).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
                }
            }
            if series.len() > 1 {
                let _ = chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw();
            }
        }
        let _ = root.present();
    }
    svg
}
