// A very small DOM for Node: enough for the status view's renderer and the plugin's notices
// (elements, text, classes, attributes, click listeners), and a way to read the tree back.

type Listener = (ev: { preventDefault(): void }) => void;

export class FakeNode {
  children: FakeElement[] = [];
  ownerDocument!: FakeDocument;
  appendChild<T extends FakeElement>(c: T): T {
    this.children.push(c);
    return c;
  }
  replaceChildren(...c: FakeElement[]): void {
    this.children = [...c];
  }
}

export class FakeElement extends FakeNode {
  attributes: Record<string, string> = {};
  className = "";
  title = "";
  private text = "";
  style: Record<string, string> = {};
  listeners: Record<string, Listener[]> = {};
  constructor(
    readonly tagName: string,
    doc: FakeDocument,
  ) {
    super();
    this.ownerDocument = doc;
  }
  get textContent(): string {
    return this.text + this.children.map((c) => c.textContent).join("");
  }
  set textContent(v: string) {
    this.text = v;
    this.children = [];
  }
  get classList() {
    const self = this;
    return {
      add(...c: string[]) {
        const have = new Set(self.className.split(/\s+/).filter(Boolean));
        c.forEach((x) => have.add(x));
        self.className = [...have].join(" ");
      },
      contains(c: string) {
        return self.className.split(/\s+/).includes(c);
      },
    };
  }
  setAttribute(k: string, v: string): void {
    this.attributes[k] = v;
  }
  getAttribute(k: string): string | null {
    return this.attributes[k] ?? null;
  }
  addEventListener(ev: string, fn: Listener): void {
    (this.listeners[ev] ??= []).push(fn);
  }
  click(): void {
    for (const fn of this.listeners.click ?? []) fn({ preventDefault() {} });
  }
  // Obsidian's helpers the plugin uses on elements.
  setText(t: string): void {
    this.textContent = t;
  }
  addClass(c: string): void {
    this.classList.add(c);
  }
  empty(): void {
    this.children = [];
    this.text = "";
  }
  onClickEvent(fn: Listener): void {
    this.addEventListener("click", fn);
  }
  createEl(tag: string, o: { cls?: string; text?: string } = {}): FakeElement {
    const e = this.ownerDocument.createElement(tag);
    if (o.cls) e.className = o.cls;
    if (o.text) e.textContent = o.text;
    return this.appendChild(e);
  }
  /** Every element below (depth first) matching a class name. */
  findAll(cls: string): FakeElement[] {
    const out: FakeElement[] = [];
    const walk = (e: FakeElement) => {
      if (e.className.split(/\s+/).includes(cls)) out.push(e);
      e.children.forEach(walk);
    };
    this.children.forEach(walk);
    return out;
  }
  find(cls: string): FakeElement | undefined {
    return this.findAll(cls)[0];
  }
}

export class FakeDocument {
  createElement(tag: string): FakeElement {
    return new FakeElement(tag, this);
  }
  createDocumentFragment(): FakeElement {
    return new FakeElement("#fragment", this);
  }
}

/** Installs a global `document` (and `window`) for code that expects a browser. */
export function installFakeDom(): FakeDocument {
  const g = globalThis as unknown as { document?: FakeDocument; window?: unknown };
  if (!g.document) g.document = new FakeDocument();
  if (!g.window) g.window = globalThis;
  return g.document;
}

export function fakeRoot(): FakeElement {
  return installFakeDom().createElement("div");
}
