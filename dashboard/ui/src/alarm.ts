// The optional sound for critical alerts: a short WebAudio beep on every newly
// raised critical alert, on whatever page is open (a wall screen usually shows
// the overview). Off by default; the choice is kept in localStorage.
const SOUND_KEY = 'se-ui-sound';
let audio: AudioContext | null = null;

export const soundOn = (): boolean => {
  try {
    return localStorage.getItem(SOUND_KEY) === '1';
  } catch {
    return false;
  }
};
export function setSound(on: boolean): void {
  try {
    localStorage.setItem(SOUND_KEY, on ? '1' : '0');
  } catch {
    /* private mode */
  }
  if (on) beep(); // also unlocks audio: browsers allow it after a click
}

export function beep(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.type = 'square';
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.0001, now + i * 0.25);
      g.gain.exponentialRampToValueAtTime(0.15, now + i * 0.25 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.25 + 0.18);
      o.connect(g).connect(audio.destination);
      o.start(now + i * 0.25);
      o.stop(now + i * 0.25 + 0.2);
    }
  } catch {
    /* no audio available */
  }
}
