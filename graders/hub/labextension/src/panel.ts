/**
 * The "My course" panel: the student's own progress document, rendered with textContent only
 * (every string in the document may come from a course author or a student's work), kept current by
 * the local server extension (a request that waits for a change while a score is due), with
 * nbgrader's own fetch / submit / fetch-feedback calls.
 */

import { Notification } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  Attempt,
  checkDocument,
  courseEvents,
  courseTime,
  feedbackPath,
  Lesson,
  percent,
  ProgressDocument,
  score
} from './document';

// The document is a small local file, and an unchanged one costs a 304 with no body (the panel
// sends the last answer's ETag): cheap to poll. Right after a submit, and while any attempt is
// being graded, the panel asks the server to hold its request until the document changes (up to
// WAIT_S seconds), so that the score shows the moment the grader writes it; the next request
// follows EAGER_GAP_MS after an answer (a pause, so that a server that answers at once cannot make it spin).
const POLL_MS = 2000;
const WAIT_S = 20;
const EAGER_GAP_MS = 100;
const EAGER_FOR_MS = 180000;
const ACTIVE_STATES: ReadonlySet<string> = new Set(['fetched', 'submitted', 'graded', 'passed']);

// An attempt waiting longer than this for its score is not about to get it (no grader running?): normal pace.
const GRADING_EAGER_MS = 600000;

/** Whether an attempt of this document was received lately and is still being graded. */
function grading(doc: ProgressDocument | null): boolean {
  const now = Date.now();
  return (
    doc !== null &&
    doc.lessons.some(lesson =>
      lesson.attempts.some(
        attempt => attempt.state === 'grading' && now - Date.parse(attempt.received_at) < GRADING_EAGER_MS
      )
    )
  );
}

/** What the server answers to a Review: read-only copies in the student's home. */
interface ReviewCopy {
  folder: string;
  attempt: number | null;
  copied: string[];
  missing: string[];
}

type Child = Node | string | null | undefined | false;

/** An element with text children only: never innerHTML. */
function el(tag: string, attrs: Record<string, string>, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function line(field: string, label: string, ...value: Child[]): HTMLElement {
  return el(
    'div',
    { class: 'pl-line', 'data-field': field },
    el('span', { class: 'pl-label' }, label),
    el('span', { class: 'pl-value' }, ...value)
  );
}

export interface PanelOptions {
  openPath: (path: string) => Promise<void>;
}

export class MyCoursePanel extends Widget {
  private doc: ProgressDocument | null = null;
  private etag: string | null = null;
  private timer: number | null = null;
  private inflight: AbortController | null = null; // the request being answered (it may wait for a change)
  private generation = 0;
  private busy = new Set<string>();
  private eagerUntil = 0;
  // The folders in the student's home: a lesson whose folder is there is fetched (nbgrader would refuse
  // to fetch it again), so the panel offers Open folder instead of Fetch.
  private inHome: ReadonlySet<string> = new Set();
  private readonly settings = ServerConnection.makeSettings();

  constructor(private readonly options: PanelOptions) {
    super();
    this.id = 'paceline-my-course';
    this.addClass('pl-MyCourse');
    this.title.caption = 'My course';
    this.node.appendChild(el('p', { class: 'pl-message' }, 'Loading your course…'));
  }

  /** Start polling; the first answer is shown at once. */
  start(): void {
    if (this.timer === null && this.inflight === null) {
      void this.refresh();
    }
  }

  dispose(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
    }
    this.inflight?.abort();
    super.dispose();
  }

  /** Load the document now (a request waiting for a change is dropped), then keep it current. */
  async refresh(): Promise<void> {
    await this.poll(0);
  }

  private async poll(waitSeconds: number): Promise<void> {
    const generation = ++this.generation;
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
      this.timer = null;
    }
    this.inflight?.abort();
    const request = new AbortController();
    this.inflight = request;
    try {
      await this.load(waitSeconds, request.signal);
    } finally {
      if (this.inflight === request) {
        this.inflight = null;
      }
      // Only the latest poll schedules the next one: a dropped request's chain ends here.
      if (!this.isDisposed && generation === this.generation) {
        const eager = Date.now() < this.eagerUntil || grading(this.doc);
        this.timer = window.setTimeout(() => void this.poll(eager ? WAIT_S : 0), eager ? EAGER_GAP_MS : POLL_MS);
      }
    }
  }

  private async load(waitSeconds: number, signal: AbortSignal): Promise<void> {
    const shown = this.doc !== null && this.etag !== null;
    const url = URLExt.join(this.settings.baseUrl, 'paceline', 'progress');
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        shown && waitSeconds > 0 ? `${url}?wait=${waitSeconds}` : url,
        {
          cache: 'no-store',
          headers: shown ? { 'If-None-Match': this.etag as string } : {},
          signal
        },
        this.settings
      );
    } catch (error) {
      if (!signal.aborted) {
        this.showMessage(`Cannot reach your server: ${String(error)}`);
      }
      return;
    }
    if (signal.aborted) {
      return; // a newer request answers instead
    }
    if (response.status === 304 && this.doc !== null) {
      return; // the document shown is the current one
    }
    this.etag = response.ok ? response.headers.get('ETag') : null;
    if (response.status === 404) {
      this.showMessage('Your course record is not there yet: it appears when the course is released to you.');
      return;
    }
    let doc: ProgressDocument;
    try {
      const body = await response.json();
      if (!response.ok) {
        throw new Error(typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`);
      }
      doc = checkDocument(body);
    } catch (error) {
      this.showMessage(`Your course record cannot be shown: ${String((error as Error).message ?? error)}`);
      return;
    }
    const first = this.doc === null;
    const changed = first || this.doc!.revision !== doc.revision;
    this.doc = doc;
    if (changed) {
      if (first) {
        await this.listHome(); // nothing is on screen yet: the first cards show fetched lessons as such
      }
      this.render(doc);
      // The new score is painted first; notifications, fetching feedback and a fresh look at the home
      // folder follow in the next frame.
      window.requestAnimationFrame(() => {
        if (!this.isDisposed) {
          this.announce(doc);
          void this.listHome().then(moved => {
            if (moved && this.doc === doc && !this.isDisposed) {
              this.render(doc);
            }
          });
        }
      });
    }
  }

  private showMessage(text: string): void {
    this.doc = null;
    this.etag = null;
    this.node.replaceChildren(el('p', { class: 'pl-message' }, text));
  }

  /**
   * A notification for each lesson that opened and each attempt graded since this browser last
   * looked (remembered per course and student); the first visit only remembers. New feedback is
   * fetched into the student's folder at once, as nbgrader's Fetch Feedback would.
   */
  private announce(doc: ProgressDocument): void {
    const key = `paceline-my-course:${doc.course.id}:${doc.student.id}`;
    const events = courseEvents(doc);
    let seen: Set<string> | null = null;
    try {
      const stored = window.localStorage.getItem(key);
      seen = stored === null ? null : new Set(JSON.parse(stored) as string[]);
    } catch {
      seen = null;
    }
    const fresh = seen === null ? [] : events.filter(event => !seen!.has(event.key));
    const all = new Set([...(seen ?? []), ...events.map(event => event.key)]);
    try {
      window.localStorage.setItem(key, JSON.stringify([...all]));
    } catch {
      // private mode: notifications then repeat per page load, nothing worse
    }
    for (const event of fresh) {
      if (event.kind === 'feedback') {
        this.eagerUntil = 0; // the submission this student waited for is graded
        Notification.success(event.message, { autoClose: 15000 });
      } else {
        Notification.info(event.message, { autoClose: 15000 });
      }
    }
    const feedbackFor = new Set(
      (seen === null ? events : fresh).filter(event => event.kind === 'feedback').map(event => event.lesson)
    );
    for (const lesson of feedbackFor) {
      void this.nbgrader('fetch_feedback', doc.course.id, lesson).catch(() => undefined);
    }
  }

  private async nbgrader(action: 'fetch' | 'submit' | 'fetch_feedback', courseId: string, lessonId: string): Promise<void> {
    const response = await ServerConnection.makeRequest(
      URLExt.join(this.settings.baseUrl, 'assignments', action),
      {
        method: 'POST',
        body: JSON.stringify({ course_id: courseId, assignment_id: lessonId }),
        headers: { 'Content-Type': 'application/json' }
      },
      this.settings
    );
    const body = await response.json().catch(() => ({}));
    if (!response.ok || body.success === false) {
      throw new Error(typeof body?.value === 'string' ? body.value : `HTTP ${response.status}`);
    }
  }

  private async act(action: 'fetch' | 'submit', lesson: Lesson): Promise<void> {
    const doc = this.doc;
    if (doc === null || this.busy.has(lesson.id)) {
      return;
    }
    this.busy.add(lesson.id);
    this.render(doc);
    try {
      await this.nbgrader(action, doc.course.id, lesson.id);
      if (action === 'fetch') {
        // The panel stays in front (the file browser would replace it): Open folder shows the files.
        Notification.info(`Fetched ${lesson.id} into your folder ${lesson.id}/`, { autoClose: 5000 });
      } else {
        this.eagerUntil = Date.now() + EAGER_FOR_MS;
        Notification.info(`Submitted ${lesson.id}: grading starts by itself; your score appears here.`, {
          autoClose: 8000
        });
      }
    } catch (error) {
      Notification.error(`Could not ${action} ${lesson.id}: ${String((error as Error).message ?? error)}`);
    } finally {
      this.busy.delete(lesson.id);
      await this.refresh();
      await this.listHome(); // a fetch (or one refused: the folder is there already) changes the buttons
      if (this.doc !== null) {
        this.render(this.doc); // the buttons come back even when the revision did not change
      }
    }
  }

  /** Read which folders the student's home holds (the server's root); whether that changed. Unreadable: as before. */
  private async listHome(): Promise<boolean> {
    try {
      const response = await ServerConnection.makeRequest(
        URLExt.join(this.settings.baseUrl, 'api', 'contents') + '?type=directory&content=1',
        { cache: 'no-store' },
        this.settings
      );
      if (!response.ok) {
        return false;
      }
      const body = await response.json();
      const entries: unknown[] = Array.isArray(body?.content) ? body.content : [];
      const folders = new Set(
        entries
          .filter((entry): entry is { name: string; type: string } =>
            typeof (entry as { name?: unknown })?.name === 'string' && (entry as { type?: unknown }).type === 'directory')
          .map(entry => entry.name)
      );
      const moved = folders.size !== this.inHome.size || [...folders].some(name => !this.inHome.has(name));
      this.inHome = folders;
      return moved;
    } catch {
      // the listing is a convenience: without it the panel offers Fetch, as nbgrader's own list does
      return false;
    }
  }

  /**
   * Read-only copies of a lesson to look back at (as released, the last attempt as submitted, its
   * feedback), made by the server in review/<lesson>/ of the student's home, then shown in the file browser.
   */
  private async review(lesson: Lesson): Promise<void> {
    if (this.busy.has(lesson.id)) {
      return;
    }
    this.busy.add(lesson.id);
    if (this.doc !== null) {
      this.render(this.doc);
    }
    try {
      const response = await ServerConnection.makeRequest(
        URLExt.join(this.settings.baseUrl, 'paceline', 'review', encodeURIComponent(lesson.id)),
        { method: 'POST' },
        this.settings
      );
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`);
      }
      const copy = body as ReviewCopy;
      const what = ['the lesson as released'];
      if (copy.attempt !== null) {
        what.push(`attempt ${copy.attempt} as you submitted it`, 'its feedback');
      }
      const missing = copy.missing.length ? ` (not there: ${copy.missing.join(', ')})` : '';
      Notification.info(`Review of ${lesson.id} in ${copy.folder}/: ${what.join(', ')}, read-only${missing}`, {
        autoClose: 10000
      });
      await this.options.openPath(copy.folder);
    } catch (error) {
      Notification.error(`Could not copy ${lesson.id} for review: ${String((error as Error).message ?? error)}`);
    } finally {
      this.busy.delete(lesson.id);
      if (this.doc !== null) {
        this.render(this.doc);
      }
    }
  }

  private link(path: string, text: string): HTMLElement {
    const href = URLExt.join(this.settings.baseUrl, path);
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'pl-link' }, text);
  }

  private render(doc: ProgressDocument): void {
    const zone = doc.course.timezone;
    const s = doc.summary;
    const grace = doc.student.grace_days;
    const summary = el(
      'section',
      { class: 'pl-summary' },
      el('h2', { class: 'pl-course' }, doc.course.title || doc.course.id),
      el('div', { class: 'pl-student' }, `${doc.student.name || doc.student.id} · times in ${zone}`),
      line('passed', 'Passed', `${s.passed} of ${doc.lessons.length} lessons · ${s.expected_by_today} expected by today`),
      line('pace', 'Pace', s.pace_text),
      line(
        'projected-finish',
        'Finish',
        s.finished_on
          ? `finished on ${courseTime(s.finished_on, zone)}`
          : s.projected_finish
            ? `projected ${courseTime(s.projected_finish, zone)}`
            : s.pace === 'withdrawn'
              ? 'none: you have withdrawn'
              : 'no projection yet',
        ` · course ends ${courseTime(s.course_end, zone)}`
      ),
      line('grace', 'Grace days', `${grace.used} of ${grace.total} used, ${grace.left} left`),
      line('next', 'Next', s.next.text),
      el('div', { class: 'pl-updated' }, `Updated ${courseTime(doc.generated_at, zone)}`)
    );
    summary.setAttribute('data-pace', s.pace);
    const lessons = el('div', { class: 'pl-lessons' }, ...doc.lessons.map(lesson => this.renderLesson(doc, lesson)));
    this.node.replaceChildren(summary, lessons);
  }

  private renderLesson(doc: ProgressDocument, lesson: Lesson): HTMLElement {
    const zone = doc.course.timezone;
    const latestFeedback = [...lesson.attempts].reverse().find(a => feedbackPath(a.feedback_url) !== null);
    const buttons = el('div', { class: 'pl-actions' });
    const button = (label: string, action: string, run: () => void): void => {
      const b = el('button', { class: 'jp-Button pl-button', type: 'button', 'data-action': action }, label);
      if (this.busy.has(lesson.id)) {
        b.setAttribute('disabled', 'disabled');
      }
      b.addEventListener('click', run);
      buttons.appendChild(b);
    };
    // The backend never says 'fetched' (it cannot see the home folder); the panel can.
    const inHome = this.inHome.has(lesson.id);
    const state = lesson.state === 'open' && inHome ? 'fetched' : lesson.state;
    if (lesson.can_fetch && !inHome) {
      button('Fetch', 'fetch', () => void this.act('fetch', lesson));
    }
    if (inHome || ACTIVE_STATES.has(state)) {
      button('Open folder', 'open', () => void this.options.openPath(lesson.id).catch(() => undefined));
    }
    if (lesson.can_submit) {
      button('Submit', 'submit', () => void this.act('submit', lesson));
    }
    if (latestFeedback) {
      buttons.appendChild(this.link(feedbackPath(latestFeedback.feedback_url)!, 'Open feedback'));
    }
    if (lesson.attempts.length) {
      button('Review', 'review', () => void this.review(lesson));
    }
    const penalty = lesson.late_penalty;
    const extension = lesson.extension;
    const row = el(
      'section',
      { class: `pl-lesson pl-state-${state}`, 'data-lesson': lesson.id, 'data-state': state },
      el(
        'h3',
        { class: 'pl-lesson-title' },
        `${lesson.position}. ${lesson.title || lesson.id}`,
        el('span', { class: 'pl-lesson-id' }, ` ${lesson.id}`)
      ),
      el(
        'div',
        { class: 'pl-status', 'data-field': 'status' },
        state === 'fetched' ? `${lesson.state_text} · in your folder ${lesson.id}/` : lesson.state_text
      ),
      lesson.state === 'not_open' && lesson.opens_at ? line('opens', 'Opens', courseTime(lesson.opens_at, zone)) : null,
      lesson.target ? line('target', 'Target', courseTime(lesson.target, zone)) : null,
      lesson.due
        ? line('due', 'Due', courseTime(lesson.due, zone), lesson.due_text ? ` · ${lesson.due_text}` : '')
        : null,
      extension
        ? line('extension', 'Extension', `until ${courseTime(extension.due, zone)}`, extension.reason ? ` — ${extension.reason}` : '')
        : null,
      line('grace', 'Grace days', `${lesson.grace_days_used} used here, ${doc.student.grace_days.left} left in the course`),
      penalty ? line('penalty', 'Late penalty', penalty.text) : null,
      lesson.attempts.length
        ? line(
            'scores',
            'Score',
            `grade ${score(lesson.grade_score, lesson.max_score)} (latest attempt)`,
            ` · best ${score(lesson.best_score, lesson.max_score)} (unlocks at ${percent(lesson.pass_fraction)})`
          )
        : null,
      lesson.attempts.length ? this.renderAttempts(zone, lesson.attempts) : null,
      buttons.childNodes.length ? buttons : null
    );
    return row;
  }

  private renderAttempts(zone: string, attempts: Attempt[]): HTMLElement {
    // A list, not a table: the sidebar is narrow, and each attempt's facts wrap as a sentence.
    const rows = attempts.map(attempt => {
      const counts = [attempt.counts_for_grade ? 'grade' : '', attempt.counts_for_unlock ? 'unlocking' : '']
        .filter(Boolean)
        .join(' and ');
      const result =
        attempt.state === 'grading'
          ? 'grading…'
          : attempt.state === 'failed'
            ? `not graded: ${attempt.failure ?? 'failed'}`
            : attempt.awaiting_manual_grading
              ? 'awaiting manual grading'
              : score(attempt.score, attempt.max_score);
      const path = feedbackPath(attempt.feedback_url);
      return el(
        'li',
        { class: 'pl-attempt', 'data-attempt': String(attempt.number), 'data-state': attempt.state },
        el('span', { class: 'pl-attempt-number' }, `#${attempt.number}`),
        ` received ${courseTime(attempt.received_at, zone)} · `,
        el('span', { 'data-field': 'score' }, result),
        counts ? el('span', { class: 'pl-counts' }, ` · counts for ${counts}`) : null,
        attempt.imported ? ' · imported from the course\'s earlier nbgrader' : null,
        path ? ' · ' : null,
        path ? this.link(path, 'feedback') : null
      );
    });
    return el('ol', { class: 'pl-attempts' }, ...rows);
  }
}
