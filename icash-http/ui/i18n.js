// The page's words in English and Hebrew, and numbers, money and dates formatted for the
// language chosen. Hebrew is written right to left.

const WORDS = {
  en: {
    skip: "Skip to the content",
    language: "Language",
    signOut: "Sign out",
    till: "Till",
    manager: "Manager",
    dashboard: "Dashboard",
    signInTitle: "Sign in",
    apiKey: "API key",
    keyHint: "The key is kept for this browser tab only.",
    signIn: "Sign in",
    branch: "Branch",
    allBranches: "All branches",
    customerId: "Customer id",
    customerHint: "Leave empty for a new customer.",
    products: "Products",
    basket: "Basket",
    emptyBasket: "The basket is empty.",
    total: "Total",
    record: "Record purchase",
    clear: "Clear",
    remove: "Remove {name}",
    receipt: "Receipt {id}",
    queuedReceipt: "Sale saved in this browser",
    queuedState: "The gateway cannot be reached: the sale will be sent when it is back.",
    recordedState: "Recorded.",
    newSale: "New sale",
    customer: "Customer",
    newCustomer: "new customer",
    time: "Time",
    status: "Status",
    completed: "completed",
    voided: "voided",
    recordedBy: "Recorded by",
    waiting: "Sales waiting to be sent: {count}",
    refused: "A sale saved while offline was refused: {error}",
    findReceipt: "Find a receipt",
    receiptNumber: "Receipt number",
    find: "Find receipt",
    refundItems: "Refund items",
    refundLine: "Refund {name}",
    refundSelected: "Refund selected items",
    voidPurchase: "Void the purchase",
    reason: "Reason",
    void: "Void purchase",
    refunds: "Refunds",
    noRefunds: "No refunds.",
    refundOf: "{amount} on {time}",
    alreadyRefunded: "{name} (refunded)",
    refunded: "Refunded {amount}.",
    voidDone: "The purchase is voided.",
    voidedBecause: "Voided on {time}: {reason}",
    changePrice: "Change a price",
    product: "Product",
    newPrice: "New price",
    changePriceButton: "Change price",
    priceChanged: "{name} now costs {price}.",
    fromDate: "From",
    toDate: "To",
    show: "Show",
    purchases: "Purchases",
    revenue: "Revenue",
    netRevenue: "Net revenue",
    units: "Units",
    uniqueCustomers: "Unique customers",
    loyalCustomers: "Loyal customers",
    salesOverTime: "Sales over time",
    granularity: "By",
    day: "Day",
    week: "Week",
    month: "Month",
    period: "Period",
    chartData: "The chart's figures",
    branchesCompared: "Branches compared",
    topProducts: "Top products",
    rank: "Rank",
    unitsSold: "Units sold",
    unitsReturned: "Units returned",
    downloadTop: "Download top products (CSV)",
    downloadSales: "Download sales over time (CSV)",
    loyalList: "Loyal customers",
    purchaseCount: "Purchases",
    totalSpent: "Total spent",
    firstPurchase: "First purchase",
    lastPurchase: "Last purchase",
    previousPage: "Previous page",
    nextPage: "Next page",
    downloadLoyal: "Download loyal customers (CSV)",
    noData: "Nothing in this period.",
    loading: "Loading…",
    unreachable: "The gateway cannot be reached.",
    signedInAs: "Signed in as {name} ({role})",
    open: "Open server: no key needed",
    role_till: "till",
    role_manager: "manager",
    role_analyst: "analyst",
    role_admin: "admin",
    nothingAllowed: "This key may not use any part of this page.",
  },
  he: {
    skip: "דילוג לתוכן",
    language: "שפה",
    signOut: "יציאה",
    till: "קופה",
    manager: "מנהל",
    dashboard: "לוח בקרה",
    signInTitle: "כניסה",
    apiKey: "מפתח API",
    keyHint: "המפתח נשמר בלשונית הדפדפן הזו בלבד.",
    signIn: "כניסה",
    branch: "סניף",
    allBranches: "כל הסניפים",
    customerId: "מזהה לקוח",
    customerHint: "השאירו ריק עבור לקוח חדש.",
    products: "מוצרים",
    basket: "סל",
    emptyBasket: "הסל ריק.",
    total: "סה״כ",
    record: "רישום קנייה",
    clear: "ניקוי",
    remove: "הסרת {name}",
    receipt: "קבלה {id}",
    queuedReceipt: "המכירה נשמרה בדפדפן",
    queuedState: "אין חיבור לשרת: המכירה תישלח כשהחיבור יחזור.",
    recordedState: "נרשם.",
    newSale: "מכירה חדשה",
    customer: "לקוח",
    newCustomer: "לקוח חדש",
    time: "שעה",
    status: "מצב",
    completed: "הושלמה",
    voided: "בוטלה",
    recordedBy: "נרשם על ידי",
    waiting: "מכירות הממתינות לשליחה: {count}",
    refused: "מכירה שנשמרה ללא חיבור נדחתה: {error}",
    findReceipt: "חיפוש קבלה",
    receiptNumber: "מספר קבלה",
    find: "חיפוש קבלה",
    refundItems: "החזרת פריטים",
    refundLine: "החזרת {name}",
    refundSelected: "החזרת הפריטים שנבחרו",
    voidPurchase: "ביטול הקנייה",
    reason: "סיבה",
    void: "ביטול קנייה",
    refunds: "החזרים",
    noRefunds: "אין החזרים.",
    refundOf: "{amount} ב־{time}",
    alreadyRefunded: "{name} (הוחזר)",
    refunded: "הוחזרו {amount}.",
    voidDone: "הקנייה בוטלה.",
    voidedBecause: "בוטלה ב־{time}: {reason}",
    changePrice: "שינוי מחיר",
    product: "מוצר",
    newPrice: "מחיר חדש",
    changePriceButton: "שינוי מחיר",
    priceChanged: "{name} עולה עכשיו {price}.",
    fromDate: "מתאריך",
    toDate: "עד תאריך",
    show: "הצגה",
    purchases: "קניות",
    revenue: "הכנסות",
    netRevenue: "הכנסות נטו",
    units: "יחידות",
    uniqueCustomers: "לקוחות שונים",
    loyalCustomers: "לקוחות נאמנים",
    salesOverTime: "מכירות לאורך זמן",
    granularity: "לפי",
    day: "יום",
    week: "שבוע",
    month: "חודש",
    period: "תקופה",
    chartData: "נתוני התרשים",
    branchesCompared: "השוואת סניפים",
    topProducts: "המוצרים המובילים",
    rank: "דירוג",
    unitsSold: "יחידות שנמכרו",
    unitsReturned: "יחידות שהוחזרו",
    downloadTop: "הורדת המוצרים המובילים (CSV)",
    downloadSales: "הורדת המכירות לאורך זמן (CSV)",
    loyalList: "לקוחות נאמנים",
    purchaseCount: "קניות",
    totalSpent: "סך הוצאה",
    firstPurchase: "קנייה ראשונה",
    lastPurchase: "קנייה אחרונה",
    previousPage: "העמוד הקודם",
    nextPage: "העמוד הבא",
    downloadLoyal: "הורדת הלקוחות הנאמנים (CSV)",
    noData: "אין נתונים בתקופה זו.",
    loading: "טוען…",
    unreachable: "אין חיבור לשרת.",
    signedInAs: "מחובר בתור {name} ({role})",
    open: "שרת פתוח: אין צורך במפתח",
    role_till: "קופה",
    role_manager: "מנהל",
    role_analyst: "אנליסט",
    role_admin: "מנהל מערכת",
    nothingAllowed: "מפתח זה אינו מורשה להשתמש באף חלק של הדף.",
  },
};

const STORED = "icash.language";

let language = WORDS[localStorage.getItem(STORED)] ? localStorage.getItem(STORED) : "en";
const listeners = [];

/** The language in use, `en` or `he`. */
export function current() {
  return language;
}

/** The words of `key` in the language in use, with each `{name}` replaced by `values.name`. */
export function t(key, values = {}) {
  const text = WORDS[language][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Switches to `next`, rewrites the page's fixed words, and tells the listeners. */
export function use(next) {
  language = WORDS[next] ? next : "en";
  localStorage.setItem(STORED, language);
  const root = document.documentElement;
  root.lang = language;
  root.dir = language === "he" ? "rtl" : "ltr";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  listeners.forEach((listener) => listener());
}

/** Calls `listener` after each switch of language. */
export function onChange(listener) {
  listeners.push(listener);
}

/** An amount of money, to the cent. */
export function money(amount) {
  return new Intl.NumberFormat(language, {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  }).format(amount);
}

/** A count. */
export function count(value) {
  return new Intl.NumberFormat(language).format(value);
}

/** An instant (RFC 3339), in the browser's zone. */
export function instant(text) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(text),
  );
}

/** A day and month, short, for a chart's axis: the date of an instant at UTC midnight. */
export function shortDate(when) {
  return new Intl.DateTimeFormat(language, { month: "short", day: "numeric", timeZone: "UTC" }).format(when);
}

/** A calendar date, `YYYY-MM-DD`, as the date itself wherever the browser is. */
export function date(text) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(`${text}T00:00:00Z`),
  );
}
