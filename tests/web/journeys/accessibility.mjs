// Accessibility of the storefront and the admin login, checked in the page.
// Every form control has an accessible name and every image has alt text.
// Text meets WCAG 2.1 contrast (4.5:1, or 3:1 for large text) against its
// background. A keyboard alone can choose a variant and add it to the cart,
// with a visible focus outline on the way.

import { expectText, expectVisible } from '../lib/expect.mjs';
import { runJourney } from '../lib/journey.mjs';
import { api } from '../lib/shop.mjs';

// Runs in the page: returns a list of problems found in the document.
function audit() {
  const problems = [];
  const describe = (el) => `${el.tagName.toLowerCase()}${el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : ''}`;
  const visible = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.visibility !== 'hidden' && style.display !== 'none' && box.width > 0 && box.height > 0;
  };
  const channel = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const parse = (text) => {
    const m = text.match(/rgba?\(([^)]+)\)/);
    if (!m) {
      return null;
    }
    const [r, g, b, a = 1] = m[1].split(',').map((x) => Number(x.trim()));
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color && color.a >= 0.99) {
        return color;
      }
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };

  for (const control of document.querySelectorAll('input:not([type=hidden]), select, textarea, button')) {
    if (!visible(control)) {
      continue;
    }
    const named = (control.labels && control.labels.length > 0) || control.getAttribute('aria-label') ||
      control.getAttribute('aria-labelledby') || (control.tagName === 'BUTTON' && control.textContent.trim()) ||
      control.getAttribute('title');
    if (!named) {
      problems.push(`${describe(control)} has no accessible name`);
    }
  }
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) {
      problems.push(`${describe(img)} has no alt attribute`);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const checked = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || checked.has(el) || !node.textContent.trim() || !visible(el)) {
      continue;
    }
    checked.add(el);
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    if (!fg || fg.a < 0.99) {
      continue;
    }
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const [hi, lo] = [luminance(fg), luminance(background(el))].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      problems.push(`${describe(el)} "${node.textContent.trim().slice(0, 30)}" has contrast ${ratio.toFixed(2)} < ${needed}`);
    }
  }
  return problems;
}

async function expectAccessible(page, what) {
  const problems = await page.evaluate(audit);
  if (problems.length > 0) {
    throw new Error(`${what}: ${problems.length} accessibility problems:\n  ${problems.join('\n  ')}`);
  }
}

await runJourney('web_accessibility', { demo: true }, async ({ page, cluster }) => {
  const url = cluster.nodes[0].url;
  const listing = await api(url, 'GET', '/api/v1/products?limit=20');
  let chosen = null;
  for (const item of listing.items) {
    const p = await api(url, 'GET', `/api/v1/products/${encodeURIComponent(item.slug)}`);
    const variant = p.variants.find((v) => v.available);
    if (variant) {
      chosen = { product: p, variant };
      break;
    }
  }
  if (!chosen) {
    throw new Error('no listed product has a variant in stock');
  }

  const pages = [
    ['/', 'page-home'],
    ['/catalogo', 'page-catalog'],
    [`/producto/${encodeURIComponent(chosen.product.slug)}`, 'page-product'],
    ['/carrito', 'page-cart'],
    ['/registro', 'page-register'],
    ['/entrar', 'page-login'],
    ['/admin', 'page-admin-login'],
  ];
  for (const [path, root] of pages) {
    await page.goto(`${url}${path}`);
    await expectVisible(page.getByTestId(root), `${path} rendered`);
    await expectAccessible(page, path);
  }

  // Keyboard only: choose the variant on the product page and add it to the cart.
  await page.goto(`${url}/producto/${encodeURIComponent(chosen.product.slug)}`);
  await expectVisible(page.getByTestId('page-product'), 'product page');
  const targets = [
    `[data-testid="color-option"][data-value="${chosen.variant.color}"]`,
    `[data-testid="size-option"][data-value="${chosen.variant.talla}"]`,
    '[data-testid="add-to-cart"]',
  ];
  for (const selector of targets) {
    let reached = false;
    for (let i = 0; i < 200 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate((s) => document.activeElement === document.querySelector(s), selector);
    }
    if (!reached) {
      throw new Error(`Tab never reached ${selector}`);
    }
    const outline = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement);
      return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    });
    if (!outline) {
      throw new Error(`${selector} shows no focus outline`);
    }
    await page.keyboard.press('Enter');
  }
  await expectText(page.getByTestId('cart-count'), '1', 'cart count after adding by keyboard');
});
