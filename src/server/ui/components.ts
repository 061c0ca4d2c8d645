// UI pieces shared by the search page (this folder, served by `clip serve`) and the in-browser
// photo search demo (src/web/demo): element lookup, the photo card of the result grid, the search
// box, the dark/light theme and progress bars. Their styles are in components.css, imported here
// so that each page's bundle carries them.
import './components.css';

/** The element with this id; a page without it is a broken page, not a case to handle. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

export interface PhotoCard {
  /** Thumbnail URL (an object URL is fine). */
  image: string;
  /** The photo's full name or path, shown on hover. */
  title: string;
  /** Shown under the thumbnail. */
  label: string;
  onOpen: () => void;
}

/** One photo of a result grid: thumbnail and label (a `.hit`, its label a `span` titled with the path). */
export function photoCard({ image, title, label, onOpen }: PhotoCard): HTMLElement {
  const card = document.createElement('div');
  card.className = 'hit';
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.src = image;
  img.alt = title;
  const caption = document.createElement('span');
  caption.textContent = label;
  caption.title = title;
  card.append(img, caption);
  card.addEventListener('click', onOpen);
  return card;
}

/** A card's label: "0.312 · name" for a search result, the name alone otherwise. */
export const scoreLabel = (name: string, score?: number): string =>
  score === undefined ? name : `${score.toFixed(3)} · ${name}`;

/**
 * Runs `search` with the box's trimmed text on Enter and, with `typingDelayMs`, once typing pauses;
 * returns the "search now" function for other triggers (e.g. a button, a changed filter).
 */
export function searchBox(
  input: HTMLInputElement,
  search: (query: string) => void,
  options: { typingDelayMs?: number } = {},
): () => void {
  let typing: ReturnType<typeof setTimeout> | undefined;
  const now = () => {
    clearTimeout(typing);
    const query = input.value.trim();
    if (query) search(query);
  };
  const delay = options.typingDelayMs;
  if (delay !== undefined)
    input.addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(now, delay);
    });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') now();
  });
  return now;
}

/** Dark / light: the system's choice until `button` is used, then remembered (localStorage). */
export function themeToggle(button: HTMLElement): void {
  const root = document.documentElement;
  const saved = localStorage.getItem('theme');
  root.classList.toggle('dark', saved ? saved === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches);
  button.addEventListener('click', () => {
    localStorage.setItem('theme', root.classList.toggle('dark') ? 'dark' : 'light');
  });
}

/** A progress bar and the line beside it. */
export function showProgress(bar: HTMLProgressElement, line: HTMLElement, fraction: number, text: string): void {
  bar.value = Math.min(1, Math.max(0, fraction));
  line.textContent = text;
}
