"""Write ``es`` and ``pt`` messages.po from the tables below (run after adding a msgid).

The .po files are what translators edit and what the kiosk compiles at start; this script is
only the convenient way to keep the two in step with the English msgids in one place.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

HERE = Path(__file__).resolve().parent

T = {
    "A staff member will walk with you while you are here.": (
        "Un miembro del personal le acompañará durante su visita.",
        "Um funcionário acompanhará você durante a visita."),
    "All visitors sign in with a photo ID and wear a visitor badge.": (
        "Todos los visitantes se registran con una identificación con foto y llevan un gafete de visitante.",
        "Todos os visitantes se registram com um documento com foto e usam um crachá de visitante."),
    "Camera": ("Cámara", "Câmera"),
    "Company": ("Empresa", "Empresa"),
    "Contractor or vendor": ("Contratista o proveedor", "Prestador de serviço ou fornecedor"),
    "Done": ("Listo", "Concluir"),
    "Find me by name": ("Buscarme por nombre", "Procurar pelo meu nome"),
    "Find my visit": ("Buscar mi visita", "Procurar minha visita"),
    "First name": ("Nombre", "Nome"),
    "Front desk": ("Recepción", "Recepção"),
    "Going to": ("Destino", "Destino"),
    "Goodbye": ("Hasta pronto", "Até logo"),
    "Hello, %(name)s!": ("¡Hola, %(name)s!", "Olá, %(name)s!"),
    "Hold the back of your ID inside the frame, barcode towards the camera.": (
        "Sostenga el reverso de su identificación dentro del marco, con el código de barras hacia la cámara.",
        "Segure o verso do seu documento dentro da moldura, com o código de barras voltado para a câmera."),
    "Hold your badge's square code up to the camera.": (
        "Muestre a la cámara el código cuadrado de su gafete.",
        "Mostre à câmera o código quadrado do seu crachá."),
    "Is this right?": ("¿Es correcto?", "Está correto?"),
    "Last name": ("Apellido", "Sobrenome"),
    "Look at the camera. Your photo goes on your badge.": (
        "Mire a la cámara. Su foto aparecerá en su gafete.",
        "Olhe para a câmera. Sua foto vai no seu crachá."),
    "Name": ("Nombre", "Nome"),
    "Next": ("Siguiente", "Próximo"),
    "No staff list yet: choose a place below.": (
        "Aún no hay lista de personal: elija un lugar abajo.",
        "Ainda não há lista de funcionários: escolha um local abaixo."),
    "Parent picking up a student": ("Padre o madre que recoge a un estudiante", "Responsável buscando um aluno"),
    "Person": ("Persona", "Pessoa"),
    "Place": ("Lugar", "Local"),
    "Please choose who or where you are visiting.": (
        "Elija a quién o qué lugar visita.", "Escolha quem ou qual local você vai visitar."),
    "Please choose who you are visiting again.": (
        "Vuelva a elegir a quién visita.", "Escolha novamente quem você vai visitar."),
    "Please see the front desk to finish signing in.": (
        "Por favor, pase por la recepción para terminar su registro.",
        "Por favor, dirija-se à recepção para concluir seu registro."),
    "Please show your photo ID to the front desk.": (
        "Muestre su identificación con foto en la recepción.",
        "Mostre seu documento com foto na recepção."),
    "Please type your first and last name.": (
        "Escriba su nombre y apellido.", "Digite seu nome e sobrenome."),
    "Print my badge": ("Imprimir mi gafete", "Imprimir meu crachá"),
    "Scan your ID": ("Escanee su identificación", "Escaneie seu documento"),
    "Search": ("Buscar", "Pesquisar"),
    "Sign in": ("Registrar entrada", "Registrar entrada"),
    "Sign out": ("Registrar salida", "Registrar saída"),
    "Start over": ("Empezar de nuevo", "Recomeçar"),
    "Take my photo": ("Tomar mi foto", "Tirar minha foto"),
    "Thank you": ("Gracias", "Obrigado"),
    "That barcode is not from a driver's licence or state ID. You can type your name instead.": (
        "Ese código no es de una licencia de conducir ni de una identificación estatal. Puede escribir su nombre.",
        "Esse código não é de uma carteira de motorista nem de um documento estadual. Você pode digitar seu nome."),
    "That code is not one of our visitor badges. Please try again or find yourself by name.": (
        "Ese código no es de uno de nuestros gafetes. Inténtelo de nuevo o búsquese por nombre.",
        "Esse código não é de um dos nossos crachás. Tente de novo ou procure pelo seu nome."),
    "The badge printer needs attention. Please see the front desk, and thank you for your patience.": (
        "La impresora de gafetes necesita atención. Pase por la recepción; gracias por su paciencia.",
        "A impressora de crachás precisa de atenção. Dirija-se à recepção; obrigado pela paciência."),
    "The camera is not working right now. Please see the front desk.": (
        "La cámara no funciona en este momento. Pase por la recepción.",
        "A câmera não está funcionando agora. Dirija-se à recepção."),
    "The camera sees only darkness. Please see the front desk.": (
        "La cámara no ve nada. Pase por la recepción.", "A câmera não está enxergando. Dirija-se à recepção."),
    "This visit is already signed out.": (
        "Esta visita ya registró su salida.", "Esta visita já registrou a saída."),
    "Turn your driver's licence or state ID over and hold the barcode on the back inside the frame.": (
        "Dé vuelta su licencia de conducir o identificación estatal y ponga el código de barras del reverso dentro del marco.",
        "Vire sua carteira de motorista ou documento estadual e coloque o código de barras do verso dentro da moldura."),
    "Type my name instead": ("Escribir mi nombre", "Digitar meu nome"),
    "Visiting": ("Visita a", "Visitando"),
    "Visitor": ("Visitante", "Visitante"),
    "Visitor sign-in": ("Registro de visitantes", "Registro de visitantes"),
    "Volunteer": ("Voluntario", "Voluntário"),
    "We cannot check this badge right now. Please see the front desk.": (
        "No podemos verificar este gafete ahora. Pase por la recepción.",
        "Não conseguimos verificar este crachá agora. Dirija-se à recepção."),
    "We cannot see your face. Please look at the camera and try again.": (
        "No vemos su cara. Mire a la cámara e inténtelo de nuevo.",
        "Não conseguimos ver seu rosto. Olhe para a câmera e tente de novo."),
    "We cleared the screen to protect your information. Please start again.": (
        "Borramos la pantalla para proteger su información. Empiece de nuevo, por favor.",
        "Limpamos a tela para proteger suas informações. Comece de novo, por favor."),
    "We could not find an open visit with that name. Please see the front desk.": (
        "No encontramos una visita abierta con ese nombre. Pase por la recepción.",
        "Não encontramos uma visita aberta com esse nome. Dirija-se à recepção."),
    "We could not read your name from this ID. You can type your name instead.": (
        "No pudimos leer su nombre en esta identificación. Puede escribirlo.",
        "Não conseguimos ler seu nome neste documento. Você pode digitá-lo."),
    "We see more than one person. Please stand alone in front of the camera.": (
        "Vemos a más de una persona. Póngase solo frente a la cámara.",
        "Vemos mais de uma pessoa. Fique sozinho na frente da câmera."),
    "Welcome": ("Bienvenido", "Bem-vindo"),
    "Where are you going?": ("¿A dónde va?", "Aonde você vai?"),
    "Who are you visiting?": ("¿A quién visita?", "Quem você vai visitar?"),
    "Who are you?": ("¿Quién es usted?", "Quem é você?"),
    "You are a": ("Usted es", "Você é"),
    "You are signed out. Thank you for visiting!": (
        "Registró su salida. ¡Gracias por su visita!", "Saída registrada. Obrigado pela visita!"),
    "Your badge is printing. Please wear it where it can be seen.": (
        "Su gafete se está imprimiendo. Llévelo en un lugar visible.",
        "Seu crachá está sendo impresso. Use-o em local visível."),
    "Your name": ("Su nombre", "Seu nome"),
    "Your photo": ("Su foto", "Sua foto"),
    "Back": ("Volver", "Voltar"),
    "Close the staff menu": ("Cerrar el menú del personal", "Fechar o menu da equipe"),
    "End lockdown": ("Terminar el cierre de emergencia", "Encerrar o bloqueio"),
    "Faults": ("Fallas", "Falhas"),
    "Hub": ("Central", "Central"),
    "Lockdown ended.": ("Cierre de emergencia terminado.", "Bloqueio encerrado."),
    "Lockdown requested. The hub has locked the building.": (
        "Cierre de emergencia solicitado. La central cerró el edificio.",
        "Bloqueio solicitado. A central trancou o prédio."),
    "Open": ("Abrir", "Abrir"),
    "Print the on-site roster": ("Imprimir la lista de visitantes presentes", "Imprimir a lista de visitantes presentes"),
    "Request lockdown": ("Solicitar cierre de emergencia", "Solicitar bloqueio"),
    "Staff": ("Personal", "Equipe"),
    "Staff PIN": ("PIN del personal", "PIN da equipe"),
    "The hub did not answer. Use the phone or the panic button.": (
        "La central no respondió. Use el teléfono o el botón de pánico.",
        "A central não respondeu. Use o telefone ou o botão de pânico."),
    "The hub refused the request.": ("La central rechazó la solicitud.", "A central recusou o pedido."),
    "The roster is printing.": ("La lista se está imprimiendo.", "A lista está sendo impressa."),
    "The staff menu is not set up on this kiosk.": (
        "El menú del personal no está configurado en este quiosco.",
        "O menu da equipe não está configurado neste quiosque."),
    "Too many wrong PINs. Try again in five minutes.": (
        "Demasiados PIN incorrectos. Inténtelo en cinco minutos.",
        "PIN incorreto muitas vezes. Tente de novo em cinco minutos."),
    "Watch list": ("Lista de vigilancia", "Lista de observação"),
    "Wrong PIN.": ("PIN incorrecto.", "PIN incorreto."),
    "away": ("sin conexión", "sem conexão"),
    "connected": ("conectada", "conectada"),
    "current": ("al día", "atualizada"),
    "too old or missing": ("vieja o ausente", "antiga ou ausente"),
    # pool visitor cards (ADR 0003)
    "Activate the card": ("Activar la tarjeta", "Ativar o cartão"),
    "Back to the staff menu": ("Volver al menú del personal", "Voltar ao menu da equipe"),
    "Card %(card)s belongs to another building. Use one of this building's cards.": (
        "La tarjeta %(card)s pertenece a otro edificio. Use una tarjeta de este edificio.",
        "O cartão %(card)s pertence a outro prédio. Use um cartão deste prédio."),
    "Card %(card)s has been taken out of use (retired or lost).": (
        "La tarjeta %(card)s ya no se usa (retirada o perdida).",
        "O cartão %(card)s foi retirado de uso (aposentado ou perdido)."),
    "Card %(card)s is active for %(label)s until %(until)s.": (
        "La tarjeta %(card)s está activa para %(label)s hasta las %(until)s.",
        "O cartão %(card)s está ativo para %(label)s até %(until)s."),
    "Card %(card)s is already lent, or this visitor already holds a card.": (
        "La tarjeta %(card)s ya está prestada, o este visitante ya tiene una tarjeta.",
        "O cartão %(card)s já está emprestado, ou este visitante já tem um cartão."),
    "Card %(card)s is not one of the district's visitor cards.": (
        "La tarjeta %(card)s no es una tarjeta de visitante del distrito.",
        "O cartão %(card)s não é um cartão de visitante do distrito."),
    "Card number": ("Número de tarjeta", "Número do cartão"),
    "If you need a visitor card to open doors, please ask at the front desk.": (
        "Si necesita una tarjeta de visitante para abrir puertas, pídala en la recepción.",
        "Se precisar de um cartão de visitante para abrir portas, peça na recepção."),
    "Nobody signed in at this kiosk is on site.": (
        "No hay nadie registrado en este quiosco que esté en el edificio.",
        "Ninguém registrado neste quiosque está no prédio."),
    "Please hand visitor card %(card)s back to the front desk.": (
        "Por favor, devuelva la tarjeta de visitante %(card)s en la recepción.",
        "Por favor, devolva o cartão de visitante %(card)s na recepção."),
    "The hub is not answering, so no card can be activated now. The visit goes on without one: the printed badge is enough.": (
        "El servidor central no responde, así que no se puede activar ninguna tarjeta ahora. La visita sigue sin "
        "tarjeta: basta con el gafete impreso.",
        "O servidor central não responde, então nenhum cartão pode ser ativado agora. A visita continua sem "
        "cartão: o crachá impresso é suficiente."),
    "The hub refused to activate the card.": (
        "El servidor central no activó la tarjeta.", "O servidor central recusou ativar o cartão."),
    "This building does not lend visitor cards.": (
        "Este edificio no presta tarjetas de visitante.", "Este prédio não empresta cartões de visitante."),
    "This sign-in is waiting for the front desk: no card until it is cleared.": (
        "Este registro espera a la recepción: no hay tarjeta hasta que se apruebe.",
        "Este registro aguarda a recepção: nenhum cartão até ser liberado."),
    "This visit is over or unknown: no card can be lent to it.": (
        "Esta visita terminó o no se conoce: no se le puede prestar una tarjeta.",
        "Esta visita terminou ou é desconhecida: nenhum cartão pode ser emprestado a ela."),
    "Type the number printed on the card (1 to 9999).": (
        "Escriba el número impreso en la tarjeta (de 1 a 9999).",
        "Digite o número impresso no cartão (de 1 a 9999)."),
    "Visitor cards": ("Tarjetas de visitante", "Cartões de visitante"),
}


def main() -> None:
    """Write both catalogs."""
    for index, lang in enumerate(("es", "pt")):
        catalog = Catalog(locale=lang, project="gatehouse-kiosk", charset="utf-8")
        for msgid, texts in sorted(T.items()):
            catalog.add(msgid, texts[index], flags=("python-format",) if "%(" in msgid else ())
        out = HERE / lang / "LC_MESSAGES" / "messages.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as fh:
            write_po(fh, catalog, omit_header=False, width=100)


if __name__ == "__main__":
    main()
