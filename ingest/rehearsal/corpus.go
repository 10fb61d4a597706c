package rehearsal

// The corpus is written for rehearsals: what people outside the room post
// during a talk, in several languages, with the things a wall must cope
// with (content warnings, sensitive media, alt text, long posts, questions)
// and a few posts the moderation rules should catch. "{tag}" is replaced by
// one of the event's hashtags. Paragraphs are separated by a blank line,
// line breaks by a newline.

// persona is a made-up author. Servers are under .example (RFC 2606), so no
// rehearsal handle or link can point at a real person or site.
type persona struct {
	name, user, server string
}

var personas = []persona{
	{"Ada Okafor", "ada", "mastodon.example"},            // 0
	{"Bryn Hughes", "bryn", "toot.cymru.example"},        // 1
	{"Camille Roux", "camille", "piaille.example"},       // 2
	{"Diego Fernández", "diego", "mastodon.es.example"},  // 3
	{"Elif Şahin", "elif", "social.example"},             // 4
	{"Farah Haddad", "farah", "social.example"},          // 5
	{"Greta Vogel", "greta", "chaos.example"},            // 6
	{"Hiro Tanaka", "hiro", "mstdn.jp.example"},          // 7
	{"Isla MacLeod", "isla", "mastodon.scot.example"},    // 8
	{"Jonas Berg", "jonas", "fosstodon.example"},         // 9
	{"Kemi Adeyemi", "kemi", "mastodon.example"},         // 10
	{"Leeds Civic Trust", "civictrust", "leeds.example"}, // 11
	{"Mari Jones", "mari", "toot.cymru.example"},         // 12
	{"Nadia Benali", "nadia", "piaille.example"},         // 13
	{"Oskar Lindqvist", "oskar", "mastodon.example"},     // 14
	{"Priya Raman", "priya", "hachyderm.example"},        // 15
	{"DEALS DEALS DEALS", "bestdeals4u", "spam.example"}, // 16
	{"grumpy_at_home", "grumpy", "social.example"},       // 17
	{"Yuki Sato", "yuki", "mstdn.jp.example"},            // 18
	{"Rhys ap Dafydd", "rhys", "toot.cymru.example"},     // 19
	{"Sofia Marín", "sofia", "mastodon.es.example"},      // 20
	{"Tom Whitaker", "tom", "mastodon.example"},          // 21
	{"Community Radio Leeds", "radio", "leeds.example"},  // 22
	{"Zaid Al-Amin", "zaid", "social.example"},           // 23
}

// picture is an image served by the pages under /static/rehearsal/media/.
type picture struct {
	file string
	alt  string
	w, h int
}

// entry is one post of the corpus.
type entry struct {
	author    int
	lang      string
	text      string
	cw        string
	sensitive bool
	media     []picture
	// link, when set, is appended as a last paragraph holding a link.
	link string
	// question marks a post sent through the web form's "this is a question" box.
	question bool
	// catch marks a post the default rules (profanity, a blocked domain or
	// word) are meant to catch in a rehearsal.
	catch bool
}

var corpus = []entry{
	{author: 0, lang: "en", text: "Watching the livestream of {tag} from my kitchen table. The sound is great, thank you to whoever is on the desk!"},
	{author: 0, lang: "en", text: "Really interesting point about community land trusts. Does anyone have a link to the report she mentioned? {tag}"},
	{author: 1, lang: "cy", text: "Bore da o Gaerdydd! Yn gwylio {tag} o bell heddiw. Diolch am y ffrwd fyw."},
	{author: 1, lang: "cy", text: "Cwestiwn i'r panel: sut mae cynnwys pobl ifanc sydd ddim yn byw yn y ddinas? {tag}"},
	{author: 2, lang: "fr", text: "Très belle intervention sur la mobilité douce. On aimerait la même chose à Lyon ! {tag}"},
	{author: 2, lang: "fr", text: "Petite question pour les intervenants : comment financez-vous les ateliers de quartier sur la durée ? {tag}"},
	{author: 3, lang: "es", text: "Siguiendo {tag} desde Sevilla. Me encanta la idea de los presupuestos participativos."},
	{author: 3, lang: "es", text: "¿Alguien sabe si las diapositivas estarán disponibles después? {tag}"},
	{author: 4, lang: "en", text: "Slide 12 deserves a poster on every bus stop. {tag}", media: []picture{{"slides.svg", "A presentation slide with a bar chart: bus journeys in the city rose from 20 million in 2019 to 31 million in 2025.", 1600, 900}}},
	{author: 5, lang: "ar", text: "تحية من عمّان إلى كل المشاركين في {tag}. موضوع مهم جداً عن المدن الشاملة."},
	{author: 5, lang: "ar", text: "سؤال: كيف يمكن للمدن الصغيرة أن تطبق هذه الأفكار بميزانية محدودة؟ {tag}"},
	{author: 6, lang: "de", text: "Spannender Vortrag! Die Zahlen zur Wohnungsnot kenne ich so auch aus Leipzig. {tag}"},
	{author: 6, lang: "de", text: "Frage an das Podium: Wie messt ihr, ob die Beteiligung wirklich alle erreicht und nicht nur die Üblichen? {tag}"},
	{author: 7, lang: "ja", text: "東京から{tag}を見ています。まちづくりの話、とても参考になります。"},
	{author: 7, lang: "ja", text: "質問です：住民参加のワークショップには毎回何人くらい集まりますか？ {tag}"},
	{author: 8, lang: "en", text: "Good morning from Inverness. Coffee in hand, ready for the afternoon session. {tag}", media: []picture{{"coffee.svg", "A mug of coffee on a windowsill, rain on the glass behind it.", 1200, 1200}}},
	{author: 9, lang: "en", text: "The open data portal they showed is built on free software. Love to see it. {tag}"},
	{author: 10, lang: "en", text: "Our youth group is watching together in the library! Hello from room 3. {tag}", media: []picture{{"crowd.svg", "About fifteen teenagers sitting on bean bags in front of a projector screen, some waving at the camera.", 1600, 1067}}},
	{author: 10, lang: "en", text: "Question from the young people here: will any of this be decided before we are old enough to vote? {tag}"},
	{author: 11, lang: "en", text: "We are delighted to see so many people following {tag} online. The full programme for this afternoon is on our website.", link: "https://leeds.example/programme"},
	{author: 12, lang: "cy", text: "Mae'n wych clywed y Gymraeg ar y llwyfan! {tag}"},
	{author: 13, lang: "fr", text: "Merci pour les sous-titres en direct, ça change tout pour moi. {tag}"},
	{author: 14, lang: "en", text: "Short one: yes. {tag}"},
	{author: 14, lang: "en", text: "{tag} 👏👏👏"},
	{author: 15, lang: "en", text: "A long thought, because this matters. {tag}\n\nWhen we talk about \"consultation\" we often mean a form on a website that is open for six weeks in August. The people who answer are the people who already have time, broadband and confidence that their answer will be read.\n\nWhat I heard today is different: go to where people already are (the school gate, the mosque, the bus station), pay people for their time, and report back what changed because of what they said. That last step is the one everyone skips.\n\nIf you are a council officer watching this: the report-back is the whole thing."},
	{author: 15, lang: "en", text: "How do you stop a citizens' panel from being captured by whoever shouts loudest? {tag}"},
	{author: 16, lang: "en", text: "🔥 WIN a FREE iPhone 17 today only!!! Click now 👉 {tag}", link: "https://spam.example/win-free-iphone?ref=backchannel", catch: true},
	{author: 16, lang: "en", text: "Cheap followers, cheap likes, fast delivery. DM us. {tag} {tag}", link: "https://spam.example/followers", catch: true},
	{author: 17, lang: "en", text: "This whole panel is bullshit, nobody is going to listen anyway. {tag}", catch: true},
	{author: 17, lang: "en", text: "{tag} more talking, less doing. Same as every year."},
	{author: 18, lang: "ja", text: "{tag} 字幕ありがとうございます！とても見やすいです。"},
	{author: 19, lang: "cy", text: "Pwynt da iawn am drafnidiaeth wledig. Mae'r bws olaf o'n pentref ni am 6 yr hwyr. {tag}"},
	{author: 20, lang: "es", text: "Qué mierda que no haya traducción al castellano en el directo. {tag}", catch: true},
	{author: 20, lang: "es", text: "Retiro lo dicho: ¡ya hay subtítulos en castellano! Gracias. {tag}"},
	{author: 21, lang: "en", text: "The map of flood risk is sobering. {tag}", cw: "flooding, climate anxiety", media: []picture{{"map.svg", "A city map with areas near the river shaded dark blue, marked as high flood risk by 2050.", 1600, 1200}}},
	{author: 21, lang: "en", text: "Photo from the river walk this morning before the event. {tag}", media: []picture{{"sunset.svg", "The river at dawn, orange sky reflected in still water, a footbridge in silhouette.", 1600, 1067}, {"whiteboard.svg", "A whiteboard covered in sticky notes grouped under three headings: homes, transport, green space.", 1600, 1200}}},
	{author: 22, lang: "en", text: "We are broadcasting {tag} live on 103.2 FM for listeners without internet access. Tell your neighbours!"},
	{author: 23, lang: "ar", text: "{tag} شكراً على الترجمة الفورية إلى العربية، مبادرة رائعة."},
	{author: 4, lang: "en", text: "Content warning for the next segment, which discusses homelessness and a death on the streets last winter. Take care of yourselves. {tag}", cw: "homelessness, death"},
	{author: 6, lang: "de", text: "So eine Scheiße, der Stream ist schon wieder weg. {tag}", catch: true},
	{author: 2, lang: "fr", text: "Le stream coupe sans arrêt, c'est la merde. {tag}", catch: true},
	{author: 0, lang: "en", text: "Image from the session on accessible venues. {tag}", sensitive: true, cw: "medical equipment", media: []picture{{"stage.svg", "A speaker in a wheelchair on a low stage with a ramp, a sign-language interpreter standing beside her.", 1600, 900}}},
	{author: 9, lang: "en", text: "Chart from the talk, redrawn because the stream was blurry. {tag}", media: []picture{{"chart.svg", "Line chart: share of residents who feel heard by the council, falling from 41% in 2015 to 23% in 2024, then rising to 30% in 2025.", 1600, 1000}}},
	{author: 3, lang: "es", text: "Pregunta: ¿cómo se evita que la participación digital deje fuera a las personas mayores? {tag}", question: true},
	{author: 7, lang: "ja", text: "長い投稿です。{tag}\n\n私の町でも同じ問題があります。若い人が都市に出て行き、残った高齢者だけでは地域の行事を続けるのが難しくなっています。\n\n今日の話で一番印象に残ったのは、「参加は義務ではなく招待であるべきだ」という言葉でした。ありがとうございました。"},
	{author: 12, lang: "cy", text: "Edrych ymlaen at y sesiwn nesaf.\nPwy arall sy'n gwylio o Wynedd? {tag}"},
	{author: 13, lang: "fr", text: "Trois idées que je retiens :\n1. écouter avant de proposer\n2. rémunérer la participation\n3. rendre compte des décisions\n{tag}"},
	{author: 8, lang: "en", text: "Question for the mayor: what one thing will be different in a year because of today? {tag}", question: true},
	{author: 14, lang: "en", text: "Is the recording going to be on PeerTube as well? {tag}"},
	{author: 11, lang: "en", text: "Reminder: the afternoon workshop sign-up closes at 3pm. Details and the accessibility information are on our page. {tag}", link: "https://leeds.example/workshops#access"},
	{author: 15, lang: "en", text: "Heads up: next speaker shows footage of the 2024 floods. {tag}", cw: "flood footage", sensitive: true, media: []picture{{"map.svg", "Aerial photograph of a flooded street with cars half under water.", 1600, 1200}}},
	{author: 18, lang: "ja", text: "会場の様子。{tag}", media: []picture{{"crowd.svg", "会場の後ろから撮った写真。満席の客席とステージのスクリーン。", 1600, 1067}}},
	{author: 19, lang: "cy", text: "Sut allwn ni sicrhau bod gwasanaethau Cymraeg ar gael ym mhob cynllun newydd? {tag}", question: true},
	{author: 23, lang: "ar", text: "هل ستكون التسجيلات متاحة مع ترجمة عربية لاحقاً؟ {tag}"},
	{author: 1, lang: "en", text: "Lovely to see the Welsh and English subtitles side by side. More of this please {tag}"},
	{author: 20, lang: "es", text: "Gran ponencia. Apuntando todo para llevarlo al ayuntamiento de Zaragoza. {tag}"},
	{author: 21, lang: "en", text: "Anyone else's stream frozen? Mine stopped at the Q&A. {tag}"},
	{author: 17, lang: "en", text: "Follow me for the REAL story they won't tell you. {tag}", link: "https://spam.example/real-story", catch: true},
	{author: 5, lang: "en", text: "Writing from Amman: the point about shade and water fountains in public squares is so important in hot cities too. {tag}"},
	{author: 10, lang: "en", text: "Thank you all. The young people here have written six questions on the whiteboard for next year. {tag}", media: []picture{{"whiteboard.svg", "A whiteboard with six handwritten questions, the first one reads: who decides where the new park goes?", 1600, 1200}}},
	{author: 13, lang: "fr", text: "Un long message, désolée. {tag}\n\nJe travaille depuis dix ans dans un centre social à Marseille, et ce que décrit l'intervenante me parle énormément : les habitants ne manquent pas d'idées, ils manquent de temps, de garde d'enfants le soir et surtout de preuves que leur parole compte.\n\nChez nous, ce qui a tout changé, c'est un simple tableau affiché dans le hall : « vous avez dit, nous avons fait ». Trois colonnes, mises à jour chaque mois. La participation a doublé en un an."},
	{author: 6, lang: "de", text: "Ein paar Gedanken nach dem ersten Block. {tag}\n\nBürgerbeteiligung scheitert selten an schlechtem Willen, sondern an Terminen: Wer Schicht arbeitet oder Kinder ins Bett bringt, sitzt nicht um 18 Uhr im Rathaus.\n\nDie Idee, Beteiligung dorthin zu bringen, wo Menschen ohnehin sind, und sie für ihre Zeit zu bezahlen, sollten wir in Leipzig sofort übernehmen. Und bitte: hinterher berichten, was aus den Vorschlägen geworden ist."},
	{author: 22, lang: "en", text: "That's a wrap from us on 103.2 FM. Thank you for listening along with {tag}!"},
}
