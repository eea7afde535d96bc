/**
 * The progress document ("paceline-progress/1") as the server extension serves it, and the pure
 * helpers the panel needs: date text in the course's time zone, and the events (a lesson opened,
 * feedback arrived) that differ between two documents. The schema is owned by the backend and
 * documented in paceline's README; this file only reads it.
 */

export const SCHEMA = 'paceline-progress/1';

export type LessonState = 'locked' | 'not_open' | 'open' | 'fetched' | 'submitted' | 'graded' | 'passed';

export interface Attempt {
  number: number;
  received_at: string;
  state: 'grading' | 'graded' | 'failed';
  score: number | null;
  max_score: number;
  counts_for_grade: boolean;
  counts_for_unlock: boolean;
  failure: string | null;
  // Newer fields of schema version 1: absent from documents written before them.
  awaiting_manual_grading?: boolean;
  imported?: boolean;
  feedback_url: string | null;
}

export interface LatePenalty {
  days_late: number;
  grace_days_applied: number;
  points_deducted: number;
  text: string;
}

export interface Lesson {
  id: string;
  title: string;
  position: number;
  state: LessonState;
  state_text: string;
  opens_at: string | null;
  target: string | null;
  due: string | null;
  due_text: string | null;
  extension: { due: string; reason: string | null } | null;
  grace_days_used: number;
  late_penalty: LatePenalty | null;
  max_score: number;
  grade_score: number | null;
  best_score: number | null;
  pass_fraction: number;
  unlock: { requires: string; fraction: number; best_so_far: number | null } | null;
  attempts: Attempt[];
  can_fetch: boolean;
  can_submit: boolean;
}

export interface ProgressDocument {
  schema: string;
  revision: string;
  generated_at: string;
  course: { id: string; title: string; timezone: string; start: string; end: string };
  student: {
    id: string;
    name: string;
    enrolled_on: string;
    withdrawn_on: string | null;
    grace_days: { total: number; used: number; left: number };
  };
  summary: {
    passed: number;
    expected_by_today: number;
    pace: string;
    pace_text: string;
    projected_finish: string | null;
    finished_on?: string | null; // absent in documents written before paceline had it
    course_end: string;
    next: { lesson: string | null; text: string };
  };
  lessons: Lesson[];
}

/** The document, or an error naming what is wrong: a panel must never show half-understood data. */
export function checkDocument(value: unknown): ProgressDocument {
  const doc = value as ProgressDocument;
  if (typeof doc !== 'object' || doc === null || doc.schema !== SCHEMA) {
    throw new Error(`not a ${SCHEMA} document (schema: ${String((doc as any)?.schema)})`);
  }
  if (!Array.isArray(doc.lessons) || typeof doc.course !== 'object' || typeof doc.summary !== 'object') {
    throw new Error(`${SCHEMA} document without course, summary or lessons`);
  }
  return doc;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * "2026-12-03 23:59" in the course's time zone, as `paceline status` prints dates; a date-only
 * value ("2026-12-20") is shown as it is. Unknown zones fall back to the offset in the string.
 */
export function courseTime(iso: string | null, timeZone: string): string {
  if (!iso) {
    return '—';
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    return iso;
  }
  const when = new Date(iso);
  if (isNaN(when.getTime())) {
    return iso;
  }
  let parts: Record<string, string>;
  try {
    parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-GB', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23'
      })
        .formatToParts(when)
        .map(p => [p.type, p.value])
    );
  } catch {
    return iso.slice(0, 16).replace('T', ' ');
  }
  return `${parts.year}-${parts.month}-${parts.day} ${pad(Number(parts.hour))}:${parts.minute}`;
}

export function score(value: number | null, max: number): string {
  if (value === null || value === undefined) {
    return '—';
  }
  const round = (x: number): string => String(Math.round(x * 100) / 100);
  return `${round(value)} / ${round(max)}`;
}

export function percent(fraction: number | null): string {
  return fraction === null || fraction === undefined ? '—' : `${Math.round(fraction * 100)}%`;
}

/** A feedback link from the document, only in the one shape the server extension serves. */
export function feedbackPath(url: string | null): string | null {
  if (!url || !/^paceline\/feedback\/[A-Za-z0-9][A-Za-z0-9._-]*\/\d+$/.test(url)) {
    return null;
  }
  return url;
}

export interface CourseEvent {
  key: string;
  kind: 'opened' | 'feedback';
  lesson: string;
  message: string;
}

const NOT_YET_OPEN: ReadonlySet<string> = new Set(['locked', 'not_open']);

/**
 * What a student is told about once: each lesson that is open to them, each graded attempt. Keys
 * are stable across documents, so the panel notifies only for keys it has not seen before.
 */
export function courseEvents(doc: ProgressDocument): CourseEvent[] {
  const events: CourseEvent[] = [];
  for (const lesson of doc.lessons) {
    const name = lesson.title ? `${lesson.id} (${lesson.title})` : lesson.id;
    if (!NOT_YET_OPEN.has(lesson.state)) {
      events.push({
        key: `opened:${lesson.id}`,
        kind: 'opened',
        lesson: lesson.id,
        message: `${name} is open for you: ${lesson.state_text}`
      });
    }
    for (const attempt of lesson.attempts) {
      if (attempt.state === 'graded') {
        events.push({
          key: `feedback:${lesson.id}:${attempt.number}`,
          kind: 'feedback',
          lesson: lesson.id,
          message: `Feedback for ${lesson.id}, attempt ${attempt.number}: ${score(attempt.score, attempt.max_score)}`
        });
      }
    }
  }
  return events;
}
