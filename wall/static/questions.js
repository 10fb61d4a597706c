// questions.js: the questions participants vote on, as the public pages draw them.
//
//   import { topQuestions, drawTopQuestions } from "/static/questions.js";
//   topQuestions(feed.questions, 3)          // the three most voted (ties: the facilitators' order)
//   drawTopQuestions(section, list, feed.questions, n)  // fills the wall's or overlay's box, hides it when empty

export function topQuestions(questions, n) {
  return questions
    .map((q, i) => ({ q, i }))
    .sort((a, b) => (b.q.votes || 0) - (a.q.votes || 0) || a.i - b.i)
    .slice(0, n)
    .map((x) => x.q);
}

export function voteWord(n) {
  return n === 1 ? "1 vote" : (n || 0) + " votes";
}

export function drawTopQuestions(section, list, questions, n) {
  const top = n > 0 ? topQuestions(questions, n) : [];
  section.classList.toggle("hidden", top.length === 0);
  list.replaceChildren(...top.map((q) => {
    const li = document.createElement("li");
    li.className = "tq" + (q.reading ? " reading" : "");
    li.dataset.id = q.id;
    const text = document.createElement("span");
    text.className = "tq-text";
    text.textContent = q.text || "";
    const votes = document.createElement("span");
    votes.className = "tq-votes";
    votes.textContent = voteWord(q.votes);
    li.append(text, votes);
    return li;
  }));
}
