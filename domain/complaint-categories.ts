// Complaint categories: the hotlines (12345, 96333) send a free-text
// `category` (protocol v1: a string). The common ones get a code so a screen
// can name them in any language; anything else keeps its own words.

/** code → the category as the hotlines write it */
export const COMPLAINT_CATEGORIES = {
  entrapment: '困人',
  noise: '电梯异响',
  vibration: '运行抖动',
  door_fault: '门开关异常',
  frequent_stops: '经常停梯',
  poor_maintenance: '维保不到位',
  button_fault: '按钮失灵',
  lighting_ventilation: '照明通风故障',
  levelling: '平层不准',
  certificate_expired: '检验标志过期',
} as const;
export type ComplaintCategoryCode = keyof typeof COMPLAINT_CATEGORIES;

const BY_TEXT = new Map<string, ComplaintCategoryCode>(Object.entries(COMPLAINT_CATEGORIES).map(([code, text]) => [text, code as ComplaintCategoryCode]));

/** The code of a category as written by a hotline (surrounding spaces ignored), or null when it is not a common one. */
export const complaintCategoryCode = (category: unknown): ComplaintCategoryCode | null => (typeof category === 'string' ? BY_TEXT.get(category.trim()) ?? null : null);
