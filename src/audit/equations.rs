//! The attacker's linear system: every aggregate equals the sum of its
//! existing children, along every dimension (SPEC section 5), and its
//! split into independent components of masked cells.

use petgraph::unionfind::UnionFind;

use crate::table::Table;

/// `total = sum of parts`: an aggregate cell and its children along one
/// dimension. Cells are positions in [`Table::cells`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equation {
    pub total: u32,
    pub parts: Vec<u32>,
}

impl Equation {
    /// Every cell of the equation with its coefficient (+1 total, -1 parts).
    pub fn terms(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        std::iter::once((self.total, 1.0)).chain(self.parts.iter().map(|&p| (p, -1.0)))
    }
}

/// All additivity equations of a table, in cell order then dimension order.
pub fn equations(table: &Table) -> Vec<Equation> {
    let mut out = Vec::new();
    for (i, cell) in table.cells.iter().enumerate() {
        let coords = table.coords(cell.key);
        for (k, h) in table.dims.iter().enumerate() {
            let node = coords[k];
            let kids = h.children(node);
            if kids.is_empty() {
                continue;
            }
            let stride = table.stride(k);
            let base = cell.key - node as u64 * stride;
            let parts: Vec<u32> = kids
                .iter()
                .filter_map(|&c| table.find(base + c as u64 * stride))
                .map(|p| p as u32)
                .collect();
            debug_assert!(
                !parts.is_empty(),
                "an existing aggregate has an existing child"
            );
            out.push(Equation {
                total: i as u32,
                parts,
            });
        }
    }
    out
}

/// Masked cells that interact, with the equations that bind them.
#[derive(Debug, Clone, Default)]
pub struct Component {
    /// Masked cells, in table order.
    pub cells: Vec<u32>,
    /// Equations holding at least one of them (and masked cells of no other component).
    pub equations: Vec<usize>,
}

/// Groups masked cells into components: two masked cells are linked when an
/// equation holds both. Components come in the order of their first cell.
pub fn components(table: &Table, eqs: &[Equation]) -> Vec<Component> {
    let n = table.cells.len();
    let masked = |c: u32| table.cells[c as usize].status.is_masked();
    let mut uf = UnionFind::<u32>::new(n);
    for e in eqs {
        let mut first = None;
        for (c, _) in e.terms() {
            if masked(c) {
                match first {
                    None => first = Some(c),
                    Some(f) => {
                        uf.union(f, c);
                    }
                }
            }
        }
    }
    let mut index_of_root = vec![u32::MAX; n];
    let mut comps: Vec<Component> = Vec::new();
    for c in 0..n as u32 {
        if masked(c) {
            let r = uf.find_mut(c) as usize;
            if index_of_root[r] == u32::MAX {
                index_of_root[r] = comps.len() as u32;
                comps.push(Component::default());
            }
            comps[index_of_root[r] as usize].cells.push(c);
        }
    }
    for (i, e) in eqs.iter().enumerate() {
        if let Some((c, _)) = e.terms().find(|&(c, _)| masked(c)) {
            let r = uf.find_mut(c) as usize;
            comps[index_of_root[r] as usize].equations.push(i);
        }
    }
    comps
}
