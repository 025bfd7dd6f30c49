// The profile page: a quote or a transcript time plays its recording from that moment in the
// one player on the page (the audio is fetched with Range requests, so seeking is immediate).
(function () {
  "use strict";
  var player = document.getElementById("player");
  var status = document.getElementById("player-status");
  if (!player) return;

  function playFrom(recording, start) {
    var src = "/recordings/" + encodeURIComponent(recording) + "/audio";
    var begin = function () {
      player.currentTime = start;
      var p = player.play();
      if (p && p.catch) p.catch(function (e) { status.textContent = e.message; });
    };
    if (player.dataset.recording !== recording) {
      player.dataset.recording = recording;
      player.src = src;
      player.addEventListener("loadedmetadata", begin, { once: true });
      player.load();
    } else if (player.readyState >= 1) {
      begin();
    } else {
      player.addEventListener("loadedmetadata", begin, { once: true });
    }
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button.play-at");
    if (!button) return;
    playFrom(button.dataset.recording, parseFloat(button.dataset.start) || 0);
  });
  player.addEventListener("error", function () {
    status.textContent = status.dataset.error || "⚠";
  });
})();
