//! Dimension hierarchies (SPEC section 3): trees whose every node is a cell
//! coordinate.
//!
//! Four sources build the same [`Hierarchy`]: structured codes cut at prefix
//! lengths, a `code,parent[,label]` CSV file, a τ-ARGUS `.hrc` file, and a
//! flat list under a total. Nodes are numbered in preorder (children in file
//! order, or sorted for prefix and flat), so sorting cells by node id prints
//! tables in the order a reader expects: each total before its detail.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::Path;

use crate::csv_input::{strip_bom, Config};
use crate::error::{Diagnostics, Error, Result};

/// Index of a node in its hierarchy; the root is always 0.
pub type NodeId = u32;

/// A rooted tree of codes.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    codes: Vec<String>,
    labels: Vec<String>,
    parent: Vec<Option<NodeId>>,
    children: Vec<Vec<NodeId>>,
    depth: Vec<u16>,
    index: FxHashMap<String, NodeId>,
}

/// One `code -> parent` link as read from a source, with where it was read.
#[derive(Debug, Clone)]
pub struct Edge {
    pub code: String,
    pub parent: Option<String>,
    pub label: String,
    pub line: Option<u64>,
}

impl Hierarchy {
    /// Builds a hierarchy from links; `source` names the file for messages.
    ///
    /// Errors: duplicate codes, empty codes, unknown parents, no root or
    /// several roots, and cycles (nodes that never reach the root).
    pub fn from_edges(source: &Path, edges: Vec<Edge>) -> Result<Hierarchy> {
        let mut diags = Diagnostics::default();
        let mut pos: HashMap<&str, usize> = HashMap::with_capacity(edges.len());
        for (i, e) in edges.iter().enumerate() {
            if e.code.is_empty() {
                diags.push(source, e.line, "empty code");
            } else if let Some(&j) = pos.get(e.code.as_str()) {
                let first = edges[j]
                    .line
                    .map(|l| format!(" (first at line {l})"))
                    .unwrap_or_default();
                diags.push(
                    source,
                    e.line,
                    format!("duplicate code '{}'{first}", e.code),
                );
            } else {
                pos.insert(&e.code, i);
            }
        }
        let roots: Vec<&Edge> = edges.iter().filter(|e| e.parent.is_none()).collect();
        match roots.len() {
            0 => diags.push(source, None, "no root (a node with an empty parent)"),
            1 => {}
            _ => {
                let names: Vec<String> = roots.iter().map(|e| format!("'{}'", e.code)).collect();
                diags.push(
                    source,
                    roots[1].line,
                    format!("several roots: {}", names.join(", ")),
                );
            }
        }
        for e in &edges {
            if let Some(p) = &e.parent {
                if !pos.contains_key(p.as_str()) {
                    diags.push(
                        source,
                        e.line,
                        format!("parent '{p}' of '{}' is not defined", e.code),
                    );
                }
            }
        }
        diags.into_result()?;

        // Children lists in input order, by input position.
        let n = edges.len();
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut root = 0;
        for (i, e) in edges.iter().enumerate() {
            match &e.parent {
                Some(p) => kids[pos[p.as_str()]].push(i),
                None => root = i,
            }
        }
        // Preorder numbering from the root; what it never reaches lies on a cycle.
        let mut order = Vec::with_capacity(n);
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            order.push(i);
            stack.extend(kids[i].iter().rev());
        }
        if order.len() < n {
            let mut reached = vec![false; n];
            for &i in &order {
                reached[i] = true;
            }
            let mut d = Diagnostics::default();
            // Walk up from the first unreached node until a node repeats: that loop is the cycle.
            let start = (0..n)
                .find(|&i| !reached[i])
                .expect("some node is unreached");
            let mut seen = vec![false; n];
            let mut i = start;
            while !seen[i] {
                seen[i] = true;
                i = pos[edges[i].parent.as_deref().expect("non-root has a parent")];
            }
            let mut cycle = vec![edges[i].code.clone()];
            let mut j = pos[edges[i].parent.as_deref().unwrap()];
            while j != i {
                cycle.push(edges[j].code.clone());
                j = pos[edges[j].parent.as_deref().unwrap()];
            }
            cycle.push(edges[i].code.clone());
            d.push(
                source,
                edges[i].line,
                format!("cycle: {}", cycle.join(" -> ")),
            );
            return Err(Error::Input(d));
        }
        let mut new_id = vec![0 as NodeId; n];
        for (k, &i) in order.iter().enumerate() {
            new_id[i] = k as NodeId;
        }
        let mut h = Hierarchy {
            codes: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
            parent: Vec::with_capacity(n),
            children: Vec::with_capacity(n),
            depth: Vec::with_capacity(n),
            index: FxHashMap::with_capacity_and_hasher(n, Default::default()),
        };
        for &i in &order {
            let e = &edges[i];
            let parent = e.parent.as_ref().map(|p| new_id[pos[p.as_str()]]);
            let depth = parent.map_or(0, |p| h.depth[p as usize] + 1);
            h.index.insert(e.code.clone(), h.codes.len() as NodeId);
            h.codes.push(e.code.clone());
            h.labels.push(e.label.clone());
            h.parent.push(parent);
            h.children
                .push(kids[i].iter().map(|&c| new_id[c]).collect());
            h.depth.push(depth);
        }
        Ok(h)
    }

    /// Reads a `code,parent[,label]` CSV file; the root has an empty parent.
    /// A first row starting with `code` is taken as a header.
    pub fn from_csv_file(path: &Path) -> Result<Hierarchy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_csv_text(path, &text)
    }

    /// As [`Hierarchy::from_csv_file`], from text already in memory.
    pub fn from_csv_text(source: &Path, text: &str) -> Result<Hierarchy> {
        let edges = csv_edges(source, text)?;
        Self::from_edges(source, edges.into_iter().map(|(e, _)| e).collect())
    }

    /// A `code,parent,label,level` tree cut at the nodes whose `level` is
    /// `level`: they become leaves, and every code below one of them is
    /// returned with that node's code (record code -> published leaf), so
    /// that records may carry the deeper codes. Branches that never reach
    /// the level keep their own leaves.
    pub fn from_csv_text_cut(
        source: &Path,
        text: &str,
        level: &str,
    ) -> Result<(Hierarchy, Vec<(String, String)>)> {
        let edges = csv_edges(source, text)?;
        if !edges.iter().any(|(_, l)| l == level) {
            let mut seen: Vec<&str> = Vec::new();
            for (_, l) in &edges {
                if !l.is_empty() && !seen.contains(&l.as_str()) {
                    seen.push(l);
                }
            }
            let known = if seen.is_empty() {
                "the file has no level column (code,parent,label,level)".to_string()
            } else {
                format!("its levels are {}", seen.join(", "))
            };
            return Err(Error::at(
                source,
                None,
                format!("no node of level '{level}' to cut the tree at: {known}"),
            ));
        }
        let parent: FxHashMap<&str, Option<&str>> = edges
            .iter()
            .map(|(e, _)| (e.code.as_str(), e.parent.as_deref()))
            .collect();
        let at_level: FxHashMap<&str, bool> = edges
            .iter()
            .map(|(e, l)| (e.code.as_str(), l == level))
            .collect();
        // The nearest strict ancestor at the level, if any (bounded walk:
        // cycles are reported by `from_edges`).
        let cut_above = |code: &str| -> Option<String> {
            let mut c = parent.get(code).copied().flatten();
            for _ in 0..edges.len() {
                let p = c?;
                if at_level.get(p).copied().unwrap_or(false) {
                    return Some(p.to_string());
                }
                c = parent.get(p).copied().flatten();
            }
            None
        };
        let mut kept = Vec::new();
        let mut through = Vec::new();
        for (e, _) in &edges {
            match cut_above(&e.code) {
                Some(leaf) => through.push((e.code.clone(), leaf)),
                None => kept.push(e.clone()),
            }
        }
        Ok((Self::from_edges(source, kept)?, through))
    }

    /// Reads a τ-ARGUS `.hrc` file: one code a line, each leading `@` one
    /// level deeper; the total is not listed, so it is given as `root`.
    pub fn from_hrc_file(path: &Path, root: &str) -> Result<Hierarchy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_hrc_text(path, &text, root)
    }

    /// As [`Hierarchy::from_hrc_file`], from text already in memory.
    pub fn from_hrc_text(source: &Path, text: &str, root: &str) -> Result<Hierarchy> {
        let text = strip_bom(text);
        let mut edges = vec![Edge {
            code: root.to_string(),
            parent: None,
            label: String::new(),
            line: None,
        }];
        // path[d] = code of the last node seen at depth d (depth 0 = root).
        let mut path: Vec<String> = vec![root.to_string()];
        let mut diags = Diagnostics::default();
        for (i, raw) in text.lines().enumerate() {
            let line = Some(i as u64 + 1);
            if raw.trim().is_empty() {
                continue;
            }
            let level = raw.bytes().take_while(|&b| b == b'@').count();
            let code = raw[level..].trim();
            let depth = level + 1;
            if depth > path.len() {
                diags.push(
                    source,
                    line,
                    format!(
                        "'{code}' is {} level(s) deeper than the line before",
                        depth - path.len()
                    ),
                );
                continue;
            }
            path.truncate(depth);
            edges.push(Edge {
                code: code.to_string(),
                parent: Some(path[depth - 1].clone()),
                label: String::new(),
                line,
            });
            path.push(code.to_string());
        }
        diags.into_result()?;
        Self::from_edges(source, edges)
    }

    /// Builds the tree of structured codes: the parent of a code of length
    /// `levels[i]` is its first `levels[i-1]` characters, and codes of the
    /// shortest level hang under `root`. Codes must have the last length.
    pub fn from_prefix<'a>(
        source: &Path,
        codes: impl IntoIterator<Item = &'a str>,
        levels: &[usize],
        root: &str,
    ) -> Result<Hierarchy> {
        let mut all: Vec<&str> = Vec::new();
        for c in codes {
            for &l in levels {
                all.push(&c[..l]);
            }
        }
        all.sort_unstable();
        all.dedup();
        let mut edges = vec![Edge {
            code: root.to_string(),
            parent: None,
            label: String::new(),
            line: None,
        }];
        for c in all {
            let k = levels
                .iter()
                .position(|&l| l == c.len())
                .expect("prefix length is a level");
            edges.push(Edge {
                code: c.to_string(),
                parent: Some(if k == 0 {
                    root.to_string()
                } else {
                    c[..levels[k - 1]].to_string()
                }),
                label: String::new(),
                line: None,
            });
        }
        Self::from_edges(source, edges)
    }

    /// All codes directly under `root`, sorted.
    pub fn flat<'a>(
        source: &Path,
        codes: impl IntoIterator<Item = &'a str>,
        root: &str,
    ) -> Result<Hierarchy> {
        let mut all: Vec<&str> = codes.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        let mut edges = vec![Edge {
            code: root.to_string(),
            parent: None,
            label: String::new(),
            line: None,
        }];
        edges.extend(all.into_iter().map(|c| Edge {
            code: c.to_string(),
            parent: Some(root.to_string()),
            label: String::new(),
            line: None,
        }));
        Self::from_edges(source, edges)
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn root(&self) -> NodeId {
        0
    }

    pub fn code(&self, n: NodeId) -> &str {
        &self.codes[n as usize]
    }

    pub fn label(&self, n: NodeId) -> &str {
        &self.labels[n as usize]
    }

    pub fn parent(&self, n: NodeId) -> Option<NodeId> {
        self.parent[n as usize]
    }

    pub fn children(&self, n: NodeId) -> &[NodeId] {
        &self.children[n as usize]
    }

    pub fn is_leaf(&self, n: NodeId) -> bool {
        self.children[n as usize].is_empty()
    }

    pub fn depth(&self, n: NodeId) -> u16 {
        self.depth[n as usize]
    }

    pub fn lookup(&self, code: &str) -> Option<NodeId> {
        self.index.get(code).copied()
    }

    /// The ancestor of `n` just below the root (`n` itself at that
    /// level): its branch of the tree; None for the root.
    pub fn branch(&self, mut n: NodeId) -> Option<NodeId> {
        loop {
            let p = self.parent(n)?;
            if p == self.root() {
                return Some(n);
            }
            n = p;
        }
    }

    /// The node and its ancestors up to the root, nearest first.
    pub fn ancestors(&self, n: NodeId) -> Vec<NodeId> {
        let mut out = vec![n];
        let mut cur = n;
        while let Some(p) = self.parent(cur) {
            out.push(p);
            cur = p;
        }
        out
    }
}

/// The links of a `code,parent[,label[,level]]` CSV text, each with its
/// level (empty when not given). A first row starting with `code` is a
/// header.
fn csv_edges(source: &Path, text: &str) -> Result<Vec<(Edge, String)>> {
    let mut rdr = Config::new().no_headers().flexible().text(text);
    let mut edges = Vec::new();
    let mut diags = Diagnostics::default();
    for (i, row) in rdr.records().enumerate() {
        let line = Some(i as u64 + 1);
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                diags.push(source, line, format!("unreadable row: {e}"));
                continue;
            }
        };
        let code = row.get(0).unwrap_or("").trim();
        if i == 0 && code.eq_ignore_ascii_case("code") {
            continue;
        }
        if row.len() == 1 && code.is_empty() {
            continue; // blank line
        }
        if row.len() < 2 {
            diags.push(source, line, "expected 'code,parent[,label]'");
            continue;
        }
        let parent = row.get(1).unwrap_or("").trim();
        edges.push((
            Edge {
                code: code.to_string(),
                parent: (!parent.is_empty()).then(|| parent.to_string()),
                label: row.get(2).unwrap_or("").trim().to_string(),
                line,
            },
            row.get(3).unwrap_or("").trim().to_string(),
        ));
    }
    diags.into_result()?;
    Ok(edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("h.csv")
    }

    #[test]
    fn csv_tree_in_preorder() {
        let h = Hierarchy::from_csv_text(
            p(),
            "code,parent,label\nW,,World\nB,W,\nA,W,\nA1,A,\nB1,B\n",
        )
        .unwrap();
        let codes: Vec<&str> = (0..h.len() as NodeId).map(|n| h.code(n)).collect();
        assert_eq!(codes, ["W", "B", "B1", "A", "A1"]);
        assert_eq!(h.label(0), "World");
        assert_eq!(h.ancestors(h.lookup("A1").unwrap()), vec![4, 3, 0]);
        assert!(h.is_leaf(h.lookup("B1").unwrap()));
        assert_eq!(h.depth(h.lookup("A1").unwrap()), 2);
    }

    #[test]
    fn single_child_nodes_are_kept() {
        let h = Hierarchy::from_csv_text(p(), "T,\nA,T\nA1,A\n").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.children(h.lookup("A").unwrap()).len(), 1);
    }

    fn err(text: &str) -> String {
        Hierarchy::from_csv_text(p(), text).unwrap_err().to_string()
    }

    #[test]
    fn rejects_bad_trees() {
        assert!(err("T,\nA,T\nA,T\n").contains("h.csv:3: duplicate code 'A' (first at line 2)"));
        assert!(err("T,\nU,\n").contains("several roots: 'T', 'U'"));
        assert!(err("A,B\nB,A\n").contains("no root"));
        let e = err("T,\nA,B\nB,A\n");
        assert!(
            e.contains("cycle: A -> B -> A") || e.contains("cycle: B -> A -> B"),
            "{e}"
        );
        assert!(err("T,\nA,X\n").contains("parent 'X' of 'A' is not defined"));
    }

    #[test]
    fn hrc_levels() {
        let h =
            Hierarchy::from_hrc_text(Path::new("r.hrc"), "Nr\n@ 1\n@2\nOs \n@3\n@@31\n", "Total")
                .unwrap();
        assert_eq!(h.code(0), "Total");
        let n31 = h.lookup("31").unwrap();
        let chain: Vec<&str> = h.ancestors(n31).iter().map(|&n| h.code(n)).collect();
        assert_eq!(chain, ["31", "3", "Os", "Total"]);
        assert_eq!(h.children(h.lookup("Nr").unwrap()).len(), 2);
        let bad = Hierarchy::from_hrc_text(Path::new("r.hrc"), "A\n@@B\n", "T")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("r.hrc:2:"), "{bad}");
    }

    #[test]
    fn prefix_and_flat() {
        let h = Hierarchy::from_prefix(
            p(),
            ["01012100", "01012990", "02011000"],
            &[2, 4, 6, 8],
            "TOTAL",
        )
        .unwrap();
        let n = h.lookup("01012990").unwrap();
        let chain: Vec<&str> = h.ancestors(n).iter().map(|&n| h.code(n)).collect();
        assert_eq!(chain, ["01012990", "010129", "0101", "01", "TOTAL"]);
        assert_eq!(h.len(), 1 + 2 + 2 + 3 + 3);
        let f = Hierarchy::flat(p(), ["b", "a", "b"], "T").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f.code(1), "a");
    }
}
