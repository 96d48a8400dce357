// Progressive enhancement only: every form works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Changing the language applies it at once (the Change button stays for keyboards).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Move focus to the confirmation (shown beside the control that was used) so screen
  // readers read it and keyboards continue from there; focusing also scrolls it into view.
  const notice = document.querySelector("[data-focus-on-load]");
  if (!notice) return;
  notice.focus();
  // Scrolling to the URL's #fragment (the row or card that was changed, so that it is in
  // view without JavaScript too) moves the focus back to the body in Chromium, as a row
  // cannot take it: once the page has loaded, give it back, leaving the scroll as it is.
  window.addEventListener("load", () => {
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost) notice.focus({ preventScroll: true });
  });
});
