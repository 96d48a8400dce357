// Tells the admin the staff member's time zone (the contact page and certificates show
// times in it): a cookie read by admin/contacts.py. Without JavaScript: PORTAL_STAFF_TIME_ZONE.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("portal_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "portal_tz=" + encodeURIComponent(zone) + "; path=/admin/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* old browser: the server's default zone is used */ }
})();
