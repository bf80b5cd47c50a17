// Wording shared by the page scripts. The same rule as the with_article
// template filter (recognizer/templatetags/recognizer_extras.py).
(function () {
  "use strict";

  // "a 7", "an 8", "an 11": the article English needs before a number said aloud.
  function withArticle(number) {
    var text = String(Math.abs(number));
    var leadingGroup = text.slice(0, (text.length - 1) % 3 + 1);  // "11" in 11,000
    var vowelSound = text.charAt(0) === "8" || leadingGroup === "11" || leadingGroup === "18";
    return (vowelSound ? "an " : "a ") + number;
  }

  window.recognizerWords = { withArticle: withArticle };
})();
