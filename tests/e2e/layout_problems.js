// Layout faults a person would see, as a list of sentences (tests/e2e/checks.py: layout_problems):
// the page wider than the viewport (sideways scrolling); an element whose content spills out of its box
// (overflow visible), drawing over its neighbour; siblings in a grid or flex row that overlap.
// Visually hidden elements (clipped 1px boxes) are meant to overflow and are left out.
() => {
  const root = document.documentElement;
  const problems = [];
  if (root.scrollWidth > root.clientWidth) {
    problems.push(`page is ${root.scrollWidth}px wide in a ${root.clientWidth}px viewport`);
  }
  const hidden = el => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || s.clip !== 'auto' || s.clipPath !== 'none') return true;
      if (e.getClientRects().length === 0) return true;
    }
    return false;
  };
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
    ' "' + (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
  for (const el of document.body.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    if (['inline', 'contents', 'none', 'table-row', 'table-row-group', 'table-header-group'].includes(s.display)) continue;
    if (['svg', 'path', 'canvas', 'iframe', 'option', 'select', 'input', 'textarea'].includes(el.tagName.toLowerCase())) continue;
    if (s.overflowX === 'visible' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      // Only the element whose own content spills, not every ancestor that inherits its scroll width.
      const child = Array.from(el.children).find(c => c.getBoundingClientRect().right > el.getBoundingClientRect().right + 1);
      if (!child || getComputedStyle(child).display === 'inline') {
        if (!hidden(el)) problems.push(`content spills out of ${describe(el)} (${el.scrollWidth}px in ${el.clientWidth}px)`);
      }
    }
    if (s.display.endsWith('grid') || s.display.endsWith('flex')) {
      const kids = Array.from(el.children).filter(c => !hidden(c) && !['absolute', 'fixed'].includes(getComputedStyle(c).position));
      const boxes = kids.map(c => c.getBoundingClientRect());
      for (let i = 0; i < kids.length; i++) for (let j = i + 1; j < kids.length; j++) {
        const a = boxes[i], b = boxes[j];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) problems.push(`${describe(kids[i])} overlaps ${describe(kids[j])}`);
      }
    }
  }
  return problems;
}
