// The bookstore's one script: draws five stars for every [data-rating] element and
// filters the index by the search box. Plain DOM, no dependencies, no console output.
"use strict";

function drawStars(element) {
  const rating = Number(element.dataset.rating);
  if (!Number.isFinite(rating)) {
    return;
  }
  const full = Math.max(0, Math.min(5, Math.round(rating)));
  element.textContent = "\u2605".repeat(full) + "\u2606".repeat(5 - full);
  element.title = rating.toFixed(1) + " / 5";
  element.classList.add(rating >= 4 ? "high" : rating >= 2.5 ? "mid" : "low");
}

function wireSearch(input, list) {
  const items = Array.from(list.children);
  const keys = items.map((item) => item.textContent.toLowerCase());
  input.addEventListener("input", () => {
    const needle = input.value.trim().toLowerCase();
    items.forEach((item, i) => {
      item.hidden = needle !== "" && !keys[i].includes(needle);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-rating]").forEach(drawStars);
  const input = document.getElementById("search");
  const list = document.getElementById("books");
  if (input && list) {
    wireSearch(input, list);
  }
  document.documentElement.dataset.ready = "1";
});
